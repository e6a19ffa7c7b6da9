// SPDX-License-Identifier: Apache-2.0
// Fuzzes s3fs::read(), render() and create() on arbitrary passwd-s3fs files.
// Input: [<flags><bucket>\x1f]<file>; flags unused. Without the first part: the default
// "ACCESS:SECRET" line (bucket "").
#include "consumers/s3fs.hpp"

#include "consumer_properties.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto p = fuzz::parameters(input);
  ConsumerSpec spec;
  spec.type = ConsumerType::s3fs;
  spec.path = "/fuzz/file";
  spec.bucket = std::string(p.option);
  const s3fs::Options options{spec.bucket};
  const auto read = [&](const Source& source) { return s3fs::read(source, options); };
  if (!check_spec(spec)) {
    (void)read(Source{spec.path, p.text});
    return 0;
  }
  fuzz::check_format(
      input, p.text, read,
      [&](const Source& source, std::string_view access, const core::Secret& secret) {
        return s3fs::render(source, options, access, secret);
      });
  fuzz::check_create(read, [&](std::string_view access, const core::Secret& secret) {
    return s3fs::create(options, access, secret);
  });
  return 0;
}
