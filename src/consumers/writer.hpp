// SPDX-License-Identifier: Apache-2.0
// The one file writer every consumer goes through: reads the current file and replaces it
// atomically and durably (temp file in the same directory, fsync, rename, fsync of the
// directory) under the symlink/hardlink policy of safe_path.hpp.
#pragma once

#include "consumers/text.hpp"
#include "core/error.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace credrotd::consumers {

enum class InPlace { no, yes };

enum class WriteMethod {
  none,     // the file already held the new content: nothing written
  rename,   // temp file + rename (atomic)
  in_place, // the file's own inode overwritten (not atomic; opt-in for bind mounts)
};
std::string_view to_string(WriteMethod method) noexcept;

struct WriteOptions {
  std::uint32_t create_mode = 0600; // permission bits of a file that does not exist yet
  std::uint32_t mode_clear = 0;     // bits always cleared, new or kept mode (s3fs: 0177)
  InPlace in_place = InPlace::no;
};

// What a write changed, for the state store (which never sees the content itself).
struct WriteReport {
  std::string path;       // the file written: the configured path or a followed link's target
  std::string old_sha256; // hex SHA-256 of the content before; "" when the file did not exist
  std::string new_sha256; // hex SHA-256 of the content now on disk
  bool created = false;   // the file did not exist before
  bool changed = false;   // the content changed (false: it already was the new content)
  WriteMethod method = WriteMethod::none;
  std::size_t stray_temp_files_removed = 0; // left over by an earlier crash
};

// The file as the renderer sees it.
struct CurrentFile {
  std::string_view path;                   // as configured, for messages
  std::optional<std::string_view> content; // nullopt when the file does not exist
};

// Computes the new content from the current one; its error is returned unchanged.
using Renderer = std::function<core::Result<Content>(const CurrentFile&)>;

// Resolves `path` (safe_path.hpp), removes stray temp files of an earlier crash, reads the
// file, renders, and replaces the file atomically:
//   temp ".<name>.credrotd-XXXXXX" created with O_EXCL in the file's directory, as the
//   directory's owner; owner, group, mode (and POSIX ACL) copied from the old file, or for a
//   new file the directory's owner and group with `create_mode`; `mode_clear` removed;
//   written; fsync; the target checked unchanged since it was read; rename (RENAME_NOREPLACE
//   for a new file); fsync of the directory.
// With InPlace::yes and an existing file, overwrites the file's own inode and fsyncs it
// instead (for single-file bind mounts, where rename fails with EBUSY).
// A failure before the rename removes the temp file and leaves the old file untouched.
// Errors: those of resolve() and of the renderer; Errc::transient when the file changed
// while it was being rewritten; Errc::io naming the file and the system error (read-only
// file system, disk full, permission denied, EBUSY: with a hint about in_place).
core::Result<WriteReport> rewrite_file(std::string_view path, const WriteOptions& options,
                                       const Renderer& render);

struct FileContent {
  Content content;
  std::string real_path;
};

// Reads `path` under the same policy (no write). nullopt when the file does not exist.
// Refuses files over 1 MiB (Errc::unsafe): no client file is that large.
core::Result<std::optional<FileContent>> read_file(std::string_view path);

// ".<name>.credrotd-": the prefix of the temp files for a file named `name` (shortened so
// that a full temp name fits in 255 bytes).
std::string temp_file_prefix(std::string_view name);

// Hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

} // namespace credrotd::consumers
