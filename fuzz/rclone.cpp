// SPDX-License-Identifier: Apache-2.0
// Fuzzes rclone::read() and rclone::render() on arbitrary rclone.conf files.
// Input: [<flags><remote>\x1f]<file>; flags unused. Without the first part: remote "s3".
#include "consumers/rclone.hpp"

#include "consumer_properties.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto p = fuzz::parameters(input);
  ConsumerSpec spec;
  spec.type = ConsumerType::rclone;
  spec.path = "/fuzz/file";
  spec.remote = p.given ? std::string(p.option) : "s3";
  const rclone::Options options{spec.remote};
  const auto read = [&](const Source& source) { return rclone::read(source, options); };
  if (!check_spec(spec)) {
    (void)read(Source{spec.path, p.text});
    return 0;
  }
  fuzz::check_format(
      input, p.text, read,
      [&](const Source& source, std::string_view access, const core::Secret& secret) {
        return rclone::render(source, options, access, secret);
      });
  return 0;
}
