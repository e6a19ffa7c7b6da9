// SPDX-License-Identifier: Apache-2.0
// Fuzzes envfile::read(), render() and create() on arbitrary environment files.
// Input: [<flags><ACCESS_VAR>,<SECRET_VAR>\x1f]<file>; flags unused. Without the first part:
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
#include "consumers/envfile.hpp"

#include "consumer_properties.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto p = fuzz::parameters(input);
  ConsumerSpec spec;
  spec.type = ConsumerType::envfile;
  spec.path = "/fuzz/file";
  if (p.given) {
    const auto comma = p.option.find(',');
    spec.access_key_var = std::string(p.option.substr(0, comma));
    spec.secret_key_var =
        comma == std::string_view::npos ? std::string() : std::string(p.option.substr(comma + 1));
  }
  const envfile::Options options{spec.access_key_var, spec.secret_key_var};
  const auto read = [&](const Source& source) { return envfile::read(source, options); };
  if (!check_spec(spec)) {
    (void)read(Source{spec.path, p.text});
    return 0;
  }
  // render() refuses, as an internal error of its read-back check, a file whose last value
  // is an open quote or ends in a backslash: systemd would read appended lines into it. That
  // refusal is allowed exactly when appending two assignments to the file loses them.
  const auto swallows_appended_lines = [&](const core::Error&) {
    const envfile::Options probe{"CREDROTD_FUZZ_PROBE_A", "CREDROTD_FUZZ_PROBE_B"};
    std::vector<text::Edit> edits;
    text::append_lines(p.text, text::split_lines(p.text),
                       {Content("CREDROTD_FUZZ_PROBE_A=a"), Content("CREDROTD_FUZZ_PROBE_B=b")},
                       edits);
    const Content appended = text::apply_edits(p.text, std::move(edits));
    const auto key = envfile::read(Source{"/fuzz/probe", fuzz::view(appended)}, probe);
    return !(key && *key && (*key)->access_id == "a" && (*key)->secret.reveal() == "b");
  };
  fuzz::check_format(
      input, p.text, read,
      [&](const Source& source, std::string_view access, const core::Secret& secret) {
        return envfile::render(source, options, access, secret);
      },
      swallows_appended_lines);
  fuzz::check_create(read, [&](std::string_view access, const core::Secret& secret) {
    return envfile::create(options, access, secret);
  });
  return 0;
}
