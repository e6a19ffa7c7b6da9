// SPDX-License-Identifier: Apache-2.0
// Fuzzes systemd_credential::name_of(), is_encrypted(), and read()/render() of plaintext
// credentials (/etc/credstore/NAME). Encrypted ones are left out: they run systemd-creds.
// Input: [<flags><path>\x1f]<file>; flags unused. Without the first part: /etc/credstore/s3.
#include "consumers/systemd_credential.hpp"

#include "consumer_properties.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

namespace {

// systemd 252's credential_name_valid(): filename_is_valid() and fdname_is_valid() (printable
// ASCII, space included, but no ':'; at most 255 bytes). Every name credrotd accepts must be
// one systemd accepts: LoadCredential=NAME and systemd-creds --name=NAME refuse the others.
bool systemd_accepts(std::string_view name)
{
  if (name.empty() || name == "." || name == ".." || name.size() > 255) {
    return false;
  }
  for (const char c : name) {
    if (c < ' ' || c >= 127 || c == ':' || c == '/') {
      return false;
    }
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto p = fuzz::parameters(input);
  const std::string_view path = p.given ? p.option : "/etc/credstore/s3";
  const auto name = systemd_credential::name_of(path);
  if (!name) {
    fuzz::require(name.error().code == core::Errc::config, "name_of() failed with another code");
    return 0;
  }
  fuzz::require(systemd_accepts(*name), "name_of() accepted a name systemd refuses");
  fuzz::require(path.ends_with("/" + *name) || path == *name,
                "name_of() is not the last component of the path");
  if (systemd_credential::is_encrypted(path)) {
    return 0;
  }
  const auto read = [&](const Source& source) {
    return systemd_credential::read(path, source.text);
  };
  const auto found = read(Source{path, p.text});
  if (!found) {
    fuzz::check_error(found.error(), input);
  }
  fuzz::check_create(read, [&](std::string_view access, const core::Secret& secret) {
    return systemd_credential::render(path, access, secret);
  });
  return 0;
}
