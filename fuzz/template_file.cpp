// SPDX-License-Identifier: Apache-2.0
// Fuzzes template_file::render() and template_file::read() with arbitrary templates and
// outputs. Input: <template>\x1f<output file>.
#include "consumers/template_file.hpp"

#include "consumer_properties.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const auto parts = fuzz::split(fuzz::as_text(data, size), 2);
  const Source tmpl{"/fuzz/template", parts[0]};
  const std::string_view output = parts.size() > 1 ? parts[1] : std::string_view();

  const auto found = template_file::read(Source{"/fuzz/file", output}, tmpl);
  if (!found) {
    fuzz::check_error(found.error(), output);
  }
  for (const fuzz::FakeKey key : {fuzz::k_key_1, fuzz::k_key_2}) {
    const core::Secret secret(key.secret);
    const auto rendered = template_file::render(tmpl, key.access, secret);
    if (!rendered) {
      fuzz::check_error(rendered.error(), tmpl.text);
      // A template without both placeholders matches nothing. (render() also refuses a template
      // this key cannot be read back from, which says nothing about other outputs.)
      const bool unusable = rendered.error().message.starts_with("/fuzz/template: a template");
      fuzz::require(!unusable || !found, "read() matched an output against an unusable template");
      continue;
    }
    fuzz::require(
        fuzz::holds(template_file::read(Source{"/fuzz/file", fuzz::view(*rendered)}, tmpl), key),
        "the rendered file does not read back as the new key");
  }
  return 0;
}
