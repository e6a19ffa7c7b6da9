// SPDX-License-Identifier: Apache-2.0
// One authentication and one list of EC2 credentials, on a private io_context.
#include "discover/identity.hpp"

#include "keystone/client.hpp"
#include "net/proxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>

namespace credrotd::discover {

namespace {

namespace asio = boost::asio;

// Where the catalog's s3 endpoint is looked up: the cloud's interface and region.
struct Where {
  std::string cloud;
  core::Interface interface = core::Interface::public_;
  std::string region;
};

asio::awaitable<core::Result<IdentityView>> query(keystone::Client* client, Where where,
                                                  net::Deadline deadline)
{
  CREDROTD_CO_TRY_ASSIGN(const auto token, co_await client->authenticate(deadline));
  CREDROTD_CO_TRY_ASSIGN(const auto credentials, co_await client->list_ec2_credentials(deadline));
  IdentityView view;
  view.cloud = where.cloud;
  view.user_id = token.user_id;
  view.user_name = token.user_name;
  view.project_id = token.project_id;
  view.project_name = token.project_name;
  for (const auto& c : credentials) {
    view.keys.push_back({c.access, c.project_id});
  }
  if (auto s3 = token.endpoint_url("s3", where.interface, where.region)) {
    view.s3_endpoint = std::move(*s3);
  }
  co_return view;
}

} // namespace

core::Result<IdentityView> ask_keystone(core::CloudAuth auth, std::chrono::seconds budget)
{
  Where where{auth.name, auth.interface, auth.region_name};
  asio::io_context io;
  net::ClientOptions base;
  base.proxy = net::ProxyOptions::from_environment();
  CREDROTD_TRY_ASSIGN(
      auto http, net::HttpClient::create(io.get_executor(), keystone::http_options(auth, base)));
  keystone::Client client(http, std::move(auth));
  std::optional<core::Result<IdentityView>> result;
  asio::co_spawn(io, query(&client, std::move(where), net::deadline_after(budget)),
                 [&result](std::exception_ptr e, core::Result<IdentityView> value) {
                   if (e) {
                     result.emplace(core::make_error(core::Errc::internal, core::describe(e)));
                   } else {
                     result.emplace(std::move(value));
                   }
                 });
  io.run();
  if (!result) {
    return core::make_error(core::Errc::internal, "the Keystone query did not complete");
  }
  return std::move(*result);
}

} // namespace credrotd::discover
