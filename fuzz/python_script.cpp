// SPDX-License-Identifier: Apache-2.0
// Fuzzes python_script::read() and render() on arbitrary Python scripts. Input: <script>.
#include "consumers/python_script.hpp"

#include "consumer_properties.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  fuzz::check_format(
      input, input, [](const Source& source) { return python_script::read(source); },
      [](const Source& source, std::string_view access, const core::Secret& secret) {
        return python_script::render(source, access, secret);
      });
  // Writing the key the script already holds gives the script back byte for byte: a rewrite
  // touches nothing but the literals' contents. (Only for a held key credrotd could have made:
  // render() refuses other new keys, e.g. with a space or a quote, as an internal error.)
  const Source source{"/fuzz/s.py", input};
  const auto found = python_script::read(source);
  if (found && *found && text::check_new_key((*found)->access_id, (*found)->secret)) {
    const auto same = python_script::render(source, (*found)->access_id, (*found)->secret);
    fuzz::require(same.has_value(), "the key the script holds cannot be written back");
    fuzz::require(fuzz::view(*same) == input, "writing the held key changed the script");
  }
  return 0;
}
