// SPDX-License-Identifier: Apache-2.0
// Random client files with known key positions, for the property test and for the
// differential test against the real clients: each file is built from pieces, and the
// expected rewrite is the same pieces with the new key values.
#pragma once

#include <cstdint>
#include <string>

namespace credrotd::consumers::test {

inline const std::string k_generated_new_access = "NEWACCESS0123456789abcdefABCDEF0";
inline const std::string k_generated_new_secret = "newSecret/With+Base64=Chars.and_-";

struct Generated {
  std::string input;    // the file with the old key
  std::string expected; // the same file with the new key
  std::string old_access;
  std::string old_secret;
  std::string bucket; // s3fs: the bucket whose line holds the key ("" = the default line)
};

// s3cmd file; at most one access_token (render with SessionToken::keep).
Generated generate_s3cmd(std::uint32_t seed);
// AWS credentials file with the key in profile "ceph" (render with SessionToken::keep).
Generated generate_aws(std::uint32_t seed);
// rclone.conf with the key in remote "ceph".
Generated generate_rclone(std::uint32_t seed);
// s3fs passwd file; the key on the line of `bucket`.
Generated generate_s3fs(std::uint32_t seed);
// Environment file with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
Generated generate_envfile(std::uint32_t seed);

} // namespace credrotd::consumers::test
