// SPDX-License-Identifier: Apache-2.0
// JSON rendering of a Proposal.
#include "discover/report.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace credrotd::discover {

namespace {

namespace json = boost::json;

json::value or_null(const std::string& s)
{
  return s.empty() ? json::value(nullptr) : json::value(s);
}

json::array strings(const std::vector<std::string>& items)
{
  json::array out;
  for (const auto& s : items) {
    out.emplace_back(s);
  }
  return out;
}

json::object place_json(const Place& p)
{
  using consumers::ConsumerType;
  json::object o;
  o["type"] = core::to_string(p.spec.type);
  o["path"] = p.spec.path;
  o["line"] = p.line;
  o["owner"] = p.owner;
  o["profile"] = or_null(p.spec.type == ConsumerType::aws_credentials ? p.spec.profile : "");
  o["remote"] = or_null(p.spec.remote);
  o["bucket"] = p.spec.type == ConsumerType::s3fs ? json::value(p.spec.bucket) : nullptr;
  o["url"] = or_null(p.spec.url);
  o["bookmarks"] = strings(p.spec.bookmarks);
  o["units"] = strings(p.units);
  return o;
}

} // namespace

json::object to_json(const Proposal& proposal, const IdentityView& identity,
                     const ProposalOptions& options)
{
  json::object out;
  out["identity"] = json::object{{"cloud", identity.cloud},
                                 {"user_id", identity.user_id},
                                 {"user_name", identity.user_name},
                                 {"project_id", identity.project_id},
                                 {"project_name", identity.project_name},
                                 {"s3_endpoint", or_null(options.s3_endpoint)}};
  json::array keys;
  for (const auto& k : proposal.keys) {
    json::array places;
    for (const auto& p : k.places) {
      places.push_back(place_json(p));
    }
    keys.push_back(json::object{{"access", k.access_id},
                                {"owner", k.own ? "identity" : "unknown"},
                                {"project_id", or_null(k.project_id)},
                                {"profile", or_null(k.profile)},
                                {"not_proposed", or_null(k.why_not)},
                                {"places", std::move(places)}});
  }
  out["keys"] = std::move(keys);
  json::array stale;
  for (const auto& k : proposal.stale) {
    stale.push_back(json::object{{"access", k.access}, {"project_id", or_null(k.project_id)}});
  }
  out["stale"] = std::move(stale);
  json::array skipped;
  for (const auto& s : proposal.skipped) {
    skipped.push_back(json::object{{"path", or_null(s.path)}, {"why", s.why}});
  }
  out["skipped"] = std::move(skipped);
  out["dropin"] = json::object{
      {"path", options.dropin_path}, {"profiles", proposal.profiles}, {"text", proposal.dropin}};
  return out;
}

} // namespace credrotd::discover
