// SPDX-License-Identifier: Apache-2.0
// sign-vectors: runs signing known-answer vectors (schema: tests/vectors/README.md) through
// credrotd_sign.
//
// Usage: sign-vectors FILE.json...
// Prints "PASS id" or "FAIL id: field expected ... got ..." per case (per form when a case
// has both a header and a query form), then "N passed, N failed"; exits 1 on any failure.
// For each case it compares every stage the file gives, in signing order: canonical query
// string, canonical request, string to sign, signature, then Authorization, and reports the
// first that differs. credrotd signs in the Authorization header only: a query-form
// (presigned) case is checked up to its canonical query string and then reported as
// "NOT RUN", and so are a case's aws-chunked chunk signatures; neither counts as a failure.
//
// How the schema's per-file conventions are read (README.md in tests/vectors):
// - algorithm: `algorithm` ("AWS4-HMAC-SHA256" or "AWS-HMAC-SHA1"); without it, a case whose
//   expected values include a canonical request is SigV4, any other SigV2.
// - form: `expected.header` / `expected.query` sub-objects run as two forms; otherwise
//   `signing_form` (case or options), default "header".
// - host: the Host header (taken out of the header list: the signer takes it separately), or
//   the authority of `request.url`.
// - SigV4 path rules: options.normalize_uri_path (false = S3 rules), else
//   use_double_uri_encode, else options.s3, else service "s3". The suites' combination
//   normalize=false + double encoding is run with the S3 rules; the two differ only for a path
//   holding a %XX escape, which is reported as unsupported rather than guessed.
// - an X-Amz-Date header already in the request (botocore suite) must equal the timestamp and
//   is left to the signer; likewise an X-Amz-Security-Token equal to the session token.
// - session token: not signed when options.omit_session_token or session_token_signed is
//   false.
// - payload: request.payload_hash, else SHA-256 of the body (of "" when options.sign_body is
//   false); x-amz-content-sha256 is signed when options.x_amz_content_sha256_header, else
//   options.sign_body, is true.
// - SigV2: the bucket is prefixed to the resource when `addressing` says virtual-hosted;
//   x-amz-date follows options.amz_date_rule ("blank_date_line" or "replaces_date_line"),
//   default replaces_date_line (the S3 Developer Guide's worked example); a session token is
//   signed as x-amz-security-token.
// - `usable: false` cases are skipped and counted as such; `signed_request` dumps are not
//   compared (they are whole HTTP messages, partly inconsistent in the 2015 suite).
// Secrets are never printed: the secret key and session token are replaced by <redacted> in
// every value shown.
#include "core/secret.hpp"
#include "sign/canonical.hpp"
#include "sign/encoding.hpp"
#include "sign/signer.hpp"
#include "sign/time_format.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace json = boost::json;
namespace sign = credrotd::sign;

namespace {

// A failed comparison or an unusable case.
struct Failure {
  std::string field;
  std::string expected;
  std::string got;
  std::string message;        // set instead of field/expected/got for errors
  bool not_run = false;       // the form is one credrotd does not implement; `message` says which
  bool passed_before = false; // not_run for a part of a case whose first part passed
};

using Outcome = std::optional<Failure>; // nullopt: passed

struct Totals {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  int not_run = 0;
};

const json::value* member(const json::object& object, std::string_view key)
{
  const auto it = object.find(key);
  return it == object.end() || it->value().is_null() ? nullptr : &it->value();
}

const json::object* object_at(const json::object& object, std::string_view key)
{
  const json::value* value = member(object, key);
  return value != nullptr && value->is_object() ? &value->get_object() : nullptr;
}

std::optional<std::string> string_at(const json::object* object, std::string_view key)
{
  if (object == nullptr) {
    return std::nullopt;
  }
  const json::value* value = member(*object, key);
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  return std::string(value->get_string());
}

std::optional<bool> bool_at(const json::object* object, std::string_view key)
{
  if (object == nullptr) {
    return std::nullopt;
  }
  const json::value* value = member(*object, key);
  if (value == nullptr || !value->is_bool()) {
    return std::nullopt;
  }
  return value->get_bool();
}

bool iequals(std::string_view a, std::string_view b)
{
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Failure error(std::string message)
{
  Failure failure;
  failure.message = std::move(message);
  return failure;
}

Failure not_run(std::string message)
{
  Failure failure = error(std::move(message));
  failure.not_run = true;
  return failure;
}

Outcome compare(std::string_view field, const std::optional<std::string>& expected,
                std::string_view got)
{
  if (!expected || *expected == got) {
    return std::nullopt;
  }
  return Failure{std::string(field), *expected, std::string(got), {}};
}

// One line, control characters escaped, secrets replaced.
std::string printable(std::string_view text, const sign::Credentials& credentials)
{
  const std::string redacted = sign::redact(text, credentials);
  std::string out = "\"";
  for (const char c : redacted) {
    switch (c) {
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        char escape[8];
        std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned char>(c));
        out += escape;
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

// "https://host/path?q" -> "https://host" and "/path?q".
std::pair<std::string, std::string> split_url(std::string_view url)
{
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return {"", std::string(url)};
  }
  const std::size_t path_start = url.find_first_of("/?", scheme_end + 3);
  if (path_start == std::string_view::npos) {
    return {std::string(url), "/"};
  }
  return {std::string(url.substr(0, path_start)), std::string(url.substr(path_start))};
}

Outcome first_failure(std::initializer_list<Outcome> outcomes)
{
  for (const Outcome& outcome : outcomes) {
    if (outcome) {
      return outcome;
    }
  }
  return std::nullopt;
}

// The inputs common to every form of a case.
struct Inputs {
  sign::Request request;
  sign::Credentials credentials;
  std::string session_token; // as given in the file (may be left out of the signature)
  bool have_credentials = false;
  std::optional<sign::Clock::time_point> time;
};

std::optional<Failure> read_inputs(const json::object& c, Inputs& in)
{
  const json::object* request = object_at(c, "request");
  if (request == nullptr) {
    return error("the case has no request object");
  }
  const std::optional<std::string> url = string_at(request, "url");
  in.request.method = string_at(request, "method").value_or("GET");
  in.request.path = string_at(request, "path").value_or("/");
  if (const auto query = string_at(request, "query")) {
    in.request.query = sign::parse_query(*query);
  }
  std::optional<std::string> host;
  if (const json::value* headers = member(*request, "headers")) {
    for (const json::value& pair : headers->as_array()) {
      const json::array& fields = pair.as_array();
      std::string name(fields.at(0).as_string());
      std::string value(fields.at(1).as_string());
      if (iequals(name, "host")) {
        if (host) {
          return error("the request has more than one Host header");
        }
        host = value;
      } else {
        in.request.headers.push_back({std::move(name), std::move(value)});
      }
    }
  }
  if (url) {
    const auto [origin, target] = split_url(*url);
    const std::size_t scheme_end = origin.find("://");
    if (scheme_end != std::string::npos) {
      in.request.scheme = origin.substr(0, scheme_end);
      if (!host) {
        host = origin.substr(scheme_end + 3);
      }
    }
  }
  in.request.host = host.value_or("");

  if (const json::object* credentials = object_at(c, "credentials")) {
    const auto id = string_at(credentials, "access_key_id");
    auto secret = string_at(credentials, "secret_access_key");
    if (id && secret) {
      in.credentials.access_key_id = *id;
      in.credentials.secret_access_key = credrotd::core::Secret::take(*secret);
      in.session_token = string_at(credentials, "session_token").value_or("");
      in.have_credentials = true;
    }
  }
  if (const auto timestamp = string_at(&c, "timestamp")) {
    in.time = sign::parse_iso8601(*timestamp);
    if (!in.time) {
      return error("cannot parse timestamp " + *timestamp);
    }
  }
  return std::nullopt;
}

Outcome run_v4(const json::object& c, const Inputs& base, std::string_view form,
               const json::object& expected)
{
  const json::object* options = object_at(c, "options");
  const json::object* request_json = object_at(c, "request");
  sign::Request request = base.request;
  sign::Credentials credentials{
      base.credentials.access_key_id, base.credentials.secret_access_key.clone(), {}};

  if (const auto expected_query = string_at(&expected, "canonical_query_string")) {
    if (const Outcome outcome = compare("canonical_query_string", expected_query,
                                        sign::canonical_query_string(request.query))) {
      return outcome;
    }
  }
  if (!base.have_credentials || !member(c, "region") || !member(c, "service")) {
    if (member(expected, "canonical_query_string")) {
      return std::nullopt; // a partial case: the canonical query string was all it gave
    }
    return error("the case lacks credentials, region or service");
  }
  if (form == "query") {
    return not_run("presigned URLs are not implemented (credrotd signs in the header)");
  }
  if (!base.time) {
    return error("the case has no timestamp");
  }
  const sign::Clock::time_point when = *base.time;

  sign::V4Options v4;
  v4.region = *string_at(&c, "region");
  v4.service = *string_at(&c, "service");
  const auto normalize = bool_at(options, "normalize_uri_path");
  const auto double_encode = bool_at(options, "use_double_uri_encode");
  bool generic = v4.service != "s3";
  if (const auto s3 = bool_at(options, "s3")) {
    generic = !*s3;
  }
  if (double_encode) {
    generic = *double_encode;
  }
  if (normalize) {
    generic = *normalize;
    if (double_encode && *double_encode != *normalize &&
        request.path.find('%') != std::string::npos) {
      return error("normalize_uri_path and use_double_uri_encode disagree on a path with an "
                   "escape: the signer offers S3 or generic rules, not this mix");
    }
  }
  v4.uri_rules = generic ? sign::UriRules::generic : sign::UriRules::s3;

  // X-Amz-Date already in the request: the signer adds it from the timestamp.
  const std::string amz_date = sign::amz_date(when);
  for (auto it = request.headers.begin(); it != request.headers.end();) {
    if (iequals(it->name, "x-amz-date")) {
      if (it->value != amz_date) {
        return error("the request's X-Amz-Date " + it->value + " differs from the timestamp");
      }
      it = request.headers.erase(it);
    } else {
      ++it;
    }
  }

  const std::string& token = base.session_token;
  const bool omit_token = bool_at(options, "omit_session_token").value_or(false) ||
                          !bool_at(&c, "session_token_signed").value_or(true);
  const bool sign_token = !token.empty() && !omit_token;
  if (sign_token) {
    credentials.session_token = credrotd::core::Secret(token);
    for (auto it = request.headers.begin(); it != request.headers.end();) {
      if (iequals(it->name, "x-amz-security-token")) {
        if (it->value != token) {
          return error("the request's X-Amz-Security-Token differs from the session token");
        }
        it = request.headers.erase(it);
      } else {
        ++it;
      }
    }
  }

  const auto sign_body = bool_at(options, "sign_body");
  if (const auto hash = string_at(request_json, "payload_hash")) {
    request.payload_hash = *hash;
  } else if (sign_body && !*sign_body) {
    request.payload_hash = std::string(sign::k_empty_payload_sha256);
  } else {
    request.payload_hash = sign::sha256_hex(string_at(request_json, "body").value_or(""));
  }
  const bool content_header =
      bool_at(options, "x_amz_content_sha256_header").value_or(sign_body.value_or(false));
  v4.content_sha256 = content_header ? sign::ContentSha256::header : sign::ContentSha256::omit;

  auto result = sign::sign_v4(request, credentials, v4, when);
  if (!result) {
    return error("sign_v4: " + result.error().describe());
  }
  if (Outcome outcome = first_failure({
          compare("canonical_request", string_at(&expected, "canonical_request"),
                  result->canonical_request),
          compare("string_to_sign", string_at(&expected, "string_to_sign"), result->string_to_sign),
          compare("signature", string_at(&expected, "signature"), result->signature),
          compare("authorization", string_at(&expected, "authorization"), result->authorization()),
      })) {
    return outcome;
  }
  if (member(expected, "chunks") != nullptr) {
    Failure chunks = not_run("aws-chunked chunk signatures are not implemented");
    chunks.passed_before = true; // the seed signature, checked above
    return chunks;
  }
  return std::nullopt;
}

Outcome run_v2(const json::object& c, const Inputs& base, std::string_view form,
               const json::object& expected)
{
  if (!base.have_credentials) {
    return error("the case has no credentials");
  }
  const json::object* options = object_at(c, "options");
  sign::Request request = base.request;
  sign::V2Options v2;
  if (string_at(&c, "addressing").value_or("").find("virtual-hosted") != std::string::npos) {
    v2.virtual_host_bucket = string_at(&c, "bucket").value_or("");
  }
  const std::string rule = string_at(options, "amz_date_rule").value_or("replaces_date_line");
  if (rule == "replaces_date_line") {
    v2.amz_date_rule = sign::AmzDateRule::replaces_date_line;
  } else if (rule == "blank_date_line") {
    v2.amz_date_rule = sign::AmzDateRule::blank_date_line;
  } else {
    return error("unknown options.amz_date_rule " + rule);
  }
  // A SigV2 session token is signed as x-amz-security-token (botocore's HmacV1 does so too).
  const sign::Credentials credentials_with_token{base.credentials.access_key_id,
                                                 base.credentials.secret_access_key.clone(),
                                                 credrotd::core::Secret(base.session_token)};
  const sign::Credentials& credentials = credentials_with_token;
  if (!base.session_token.empty()) {
    std::erase_if(request.headers, [&](const sign::Header& header) {
      return iequals(header.name, "x-amz-security-token") && header.value == base.session_token;
    });
  }
  const sign::Clock::time_point when = base.time.value_or(sign::Clock::time_point{});

  if (form == "query") {
    return not_run("query-string authentication is not implemented (credrotd signs in the header)");
  }
  auto result = sign::sign_v2(request, credentials, v2, when);
  if (!result) {
    return error("sign_v2: " + result.error().describe());
  }
  return first_failure({
      compare("string_to_sign", string_at(&expected, "string_to_sign"), result->string_to_sign),
      compare("signature", string_at(&expected, "signature"), result->signature),
      compare("authorization", string_at(&expected, "authorization"), result->authorization()),
  });
}

void report(std::string_view id, std::string_view form, const Outcome& outcome,
            const sign::Credentials& credentials, Totals& totals)
{
  std::string name(id);
  if (!form.empty()) {
    name += " (" + std::string(form) + ")";
  }
  if (!outcome) {
    std::cout << "PASS " << name << "\n";
    ++totals.passed;
    return;
  }
  if (outcome->not_run) {
    if (outcome->passed_before) {
      std::cout << "PASS " << name << "\n";
      ++totals.passed;
    }
    std::cout << "NOT RUN " << name << ": " << outcome->message << "\n";
    ++totals.not_run;
    return;
  }
  ++totals.failed;
  if (!outcome->message.empty()) {
    std::cout << "FAIL " << name << ": " << sign::redact(outcome->message, credentials) << "\n";
    return;
  }
  std::cout << "FAIL " << name << ": " << outcome->field << " expected "
            << printable(outcome->expected, credentials) << " got "
            << printable(outcome->got, credentials) << "\n";
}

void run_case(const json::object& c, Totals& totals)
{
  const std::string id = string_at(&c, "id").value_or("(no id)");
  if (!bool_at(&c, "usable").value_or(true)) {
    std::cout << "SKIP " << id << ": marked usable=false in the vector file\n";
    ++totals.skipped;
    return;
  }
  Inputs inputs;
  if (const auto failure = read_inputs(c, inputs)) {
    report(id, {}, failure, inputs.credentials, totals);
    return;
  }
  // The token, if any, is redacted in everything printed, whether or not it is signed.
  const sign::Credentials for_redaction{inputs.credentials.access_key_id,
                                        inputs.credentials.secret_access_key.clone(),
                                        credrotd::core::Secret(inputs.session_token)};
  const json::object* expected = object_at(c, "expected");
  if (expected == nullptr) {
    report(id, {}, error("the case has no expected object"), for_redaction, totals);
    return;
  }

  std::string algorithm = string_at(&c, "algorithm").value_or("");
  const json::object* header_form = object_at(*expected, "header");
  const json::object* query_form = object_at(*expected, "query");
  if (algorithm.empty()) {
    const bool v4 = header_form != nullptr || query_form != nullptr ||
                    member(*expected, "canonical_request") != nullptr;
    algorithm = v4 ? "AWS4-HMAC-SHA256" : "AWS-HMAC-SHA1";
  }
  const bool v4 = algorithm == "AWS4-HMAC-SHA256";
  if (!v4 && algorithm != "AWS-HMAC-SHA1") {
    report(id, {}, error("unknown algorithm " + algorithm), for_redaction, totals);
    return;
  }

  const auto run = [&](std::string_view form, const json::object& form_expected) -> Outcome {
    try {
      return v4 ? run_v4(c, inputs, form, form_expected) : run_v2(c, inputs, form, form_expected);
    } catch (const std::exception& e) {
      return error(std::string("malformed case: ") + e.what());
    }
  };
  if (header_form != nullptr || query_form != nullptr) {
    if (header_form != nullptr) {
      report(id, "header", run("header", *header_form), for_redaction, totals);
    }
    if (query_form != nullptr) {
      report(id, "query", run("query", *query_form), for_redaction, totals);
    }
    return;
  }
  std::string form =
      string_at(&c, "signing_form")
          .value_or(string_at(object_at(c, "options"), "signing_form").value_or("header"));
  if (form != "header" && form != "query") {
    report(id, {}, error("unknown signing_form " + form), for_redaction, totals);
    return;
  }
  report(id, {}, run(form, *expected), for_redaction, totals);
}

bool run_file(const char* path, Totals& totals)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cout << "FAIL " << path << ": cannot open the file\n";
    ++totals.failed;
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value document = json::parse(text.str(), ec);
  if (ec || !document.is_object() || !document.as_object().contains("cases") ||
      !document.at("cases").is_array()) {
    std::cout << "FAIL " << path << ": not a vector file (a JSON object with a \"cases\" array)"
              << (ec ? ": " + ec.message() : std::string()) << "\n";
    ++totals.failed;
    return false;
  }
  std::cout << "# " << path << "\n";
  for (const json::value& c : document.at("cases").as_array()) {
    if (!c.is_object()) {
      std::cout << "FAIL " << path << ": a case is not a JSON object\n";
      ++totals.failed;
      continue;
    }
    run_case(c.as_object(), totals);
  }
  return true;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc < 2) {
    std::cerr << "usage: sign-vectors FILE.json...\n";
    return 2;
  }
  Totals totals;
  for (int i = 1; i < argc; ++i) {
    run_file(argv[i], totals);
  }
  std::cout << totals.passed << " passed, " << totals.failed << " failed";
  if (totals.skipped != 0) {
    std::cout << " (" << totals.skipped << " skipped: usable=false)";
  }
  if (totals.not_run != 0) {
    std::cout << " (" << totals.not_run << " not run: presigned and chunk forms)";
  }
  std::cout << "\n";
  return totals.failed == 0 ? 0 : 1;
}
