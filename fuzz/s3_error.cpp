// SPDX-License-Identifier: Apache-2.0
// Fuzzes the S3 verifier's reading of answers: error_code() of an S3 XML error body and
// classify() of the status and code. Input: the body; its size picks the status.
#include "s3/verifier.hpp"
#include "support.hpp"

#include <algorithm>
#include <array>

using namespace credrotd;
using fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view body = fuzz::as_text(data, size);
  const std::string code = s3::error_code(body);
  require(code.size() <= 128, "error_code() is longer than 128 bytes");
  require(std::all_of(code.begin(), code.end(),
                      [](char c) {
                        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                               (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                      }),
          "error_code() returned a character outside [A-Za-z0-9._-]");
  if (!code.empty()) {
    require(body.find("<Code>" + code + "</Code>") != std::string_view::npos,
            "error_code() returned a code the body does not hold");
  }
  static constexpr std::array<int, 9> k_statuses = {200, 204, 301, 400, 403, 404, 429, 500, 503};
  for (const int status : k_statuses) {
    const auto result = s3::classify(status, code);
    if (status / 100 == 2) {
      require(result == core::VerifyResult::accepted, "a 2xx answer is not accepted");
    } else {
      require(result != core::VerifyResult::accepted, "an error answer is accepted");
    }
    if (status >= 500 || status == 429) {
      require(result != core::VerifyResult::rejected || !code.empty(),
              "a 5xx or 429 without a code rejects the key");
    }
  }
  return 0;
}
