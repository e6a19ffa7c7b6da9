// SPDX-License-Identifier: Apache-2.0
// s3fs password files (~/.passwd-s3fs, /etc/passwd-s3fs): "ACCESS:SECRET" (every bucket) and
// "bucket:ACCESS:SECRET" lines, read as s3fs 1.90 reads them.
//
// s3fs refuses the whole file on a line with a space or tab inside, a line starting with
// '[', or two entries for one bucket; AWSAccessKeyId=/AWSSecretKey= lines, when present, win
// over every colon line. It also refuses a file that group or others may access: the writer
// clears those bits (WriteOptions::mode_clear).
#pragma once

#include "consumers/format.hpp"
#include "consumers/spec.hpp"

#include <string>

namespace credrotd::consumers::s3fs {

struct Options {
  std::string bucket; // "" = the default "ACCESS:SECRET" line
};

// The key s3fs uses for `options.bucket` (its own line, else the default line, unless
// AWSAccessKeyId=/AWSSecretKey= lines override both); nullopt when there is none.
// Errc::parse (file:line:column) for a file s3fs refuses, or a byte order mark (s3fs would
// make it part of the access key).
core::Result<std::optional<FoundKey>> read(const Source& source, const Options& options);

// `source` with the bucket's line (or the AWSAccessKeyId=/AWSSecretKey= lines, for the
// default) holding the new key; the line is appended when missing. Every other byte
// unchanged. Errc::parse also when the file's AWSAccessKeyId= lines would override the
// bucket line credrotd is asked to write.
core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret);

// A new file with the one line.
core::Result<Content> create(const Options& options, std::string_view access_id,
                             const core::Secret& secret);

// Errc::config when `bucket` cannot be written as the first field of a passwd line.
core::Status check_bucket_name(std::string_view bucket);

// The permission bits s3fs tolerates on `path`: 0600 everywhere, plus group read on exactly
// "/etc/passwd-s3fs" (s3fs's own exception). Returns the bits to clear from a file's mode.
std::uint32_t forbidden_mode_bits(std::string_view path);

} // namespace credrotd::consumers::s3fs
