// SPDX-License-Identifier: Apache-2.0
// Dispatch from a ConsumerSpec to its format module and the writer.
#include "consumers/consumer.hpp"

#include "consumers/aws_credentials.hpp"
#include "consumers/cyberduck.hpp"
#include "consumers/envfile.hpp"
#include "consumers/python_script.hpp"
#include "consumers/rclone.hpp"
#include "consumers/s3cmd.hpp"
#include "consumers/s3fs.hpp"
#include "consumers/systemd_credential.hpp"
#include "consumers/template_file.hpp"

#include <fmt/format.h>

namespace credrotd::consumers {

namespace {

core::Error config_error(const ConsumerSpec& spec, std::string_view what)
{
  return core::make_error(core::Errc::config,
                          fmt::format("{} consumer {}: {}", to_string(spec.type), spec.path, what));
}

core::Status prefixed(const ConsumerSpec& spec, core::Status status)
{
  if (!status) {
    return config_error(spec, status.error().message);
  }
  return {};
}

aws_credentials::Options aws_options(const ConsumerSpec& spec)
{
  return {spec.profile, spec.create_profile, spec.session_token};
}

// The file at `path`; Errc::not_found with `missing` when it does not exist.
core::Result<FileContent> read_existing(const std::string& path, std::string missing)
{
  CREDROTD_TRY_ASSIGN(auto file, read_file(path));
  if (!file) {
    return core::make_error(core::Errc::not_found, std::move(missing));
  }
  return std::move(*file);
}

core::Result<FileContent> read_template(const ConsumerSpec& spec)
{
  return read_existing(spec.template_path, fmt::format("template {} (for {}) does not exist",
                                                       spec.template_path, spec.path));
}

core::Result<FileContent> read_bookmark_file(const std::string& path)
{
  return read_existing(path, fmt::format("bookmark {} does not exist; credrotd rewrites bookmarks "
                                         "but does not create them: fix bookmarks, or save the "
                                         "bookmark with duck",
                                         path));
}

core::Error missing_file(const ConsumerSpec& spec)
{
  return core::make_error(
      core::Errc::not_found,
      fmt::format("{} does not exist; credrotd rewrites {} files but does not create them (the "
                  "client needs more than the key): create it first",
                  spec.path, to_string(spec.type)));
}

WriteOptions write_options(const ConsumerSpec& spec)
{
  WriteOptions options;
  options.create_mode = spec.mode & 0777U;
  options.mode_clear = spec.type == ConsumerType::s3fs ? s3fs::forbidden_mode_bits(spec.path) : 0;
  options.in_place = spec.in_place ? InPlace::yes : InPlace::no;
  return options;
}

// The key duck uses: the login the first bookmark names, or the only login for the host.
core::Result<std::optional<FoundKey>> read_cyberduck(const ConsumerSpec& spec,
                                                     const Source& credentials)
{
  CREDROTD_TRY_ASSIGN(const auto login, cyberduck::parse_url(spec.url));
  if (spec.bookmarks.empty()) {
    return cyberduck::read(credentials, login, std::nullopt);
  }
  CREDROTD_TRY_ASSIGN(const FileContent file, read_bookmark_file(spec.bookmarks.front()));
  CREDROTD_TRY_ASSIGN(const auto bookmark,
                      cyberduck::read_bookmark({spec.bookmarks.front(), file.content}));
  CREDROTD_TRY_ASSIGN(auto found, cyberduck::read(credentials, login, bookmark.username));
  if (!found) {
    CREDROTD_TRY_ASSIGN(const auto all, cyberduck::logins(credentials, login));
    if (!all.empty()) {
      return text::file_error(
          credentials, core::Errc::parse,
          fmt::format("no password for {}, the login bookmark {} names: duck would ask for one",
                      cyberduck::property_key(login, bookmark.username), spec.bookmarks.front()));
    }
  }
  return found;
}

// Rewrites the credentials file and the bookmarks so that a crash between two files leaves
// a pair that works: (1) the new login is added beside the old one, (2) each bookmark is
// switched to the new access key, (3) the old login is removed. Without bookmarks, one
// rewrite replaces the login.
core::Result<WriteReport> apply_cyberduck(const ConsumerSpec& spec, std::string_view access_id,
                                          const core::Secret& secret)
{
  CREDROTD_TRY_ASSIGN(const auto login, cyberduck::parse_url(spec.url));
  const WriteOptions options = write_options(spec);
  const auto credentials = [&](cyberduck::OtherLogins others) {
    return rewrite_file(spec.path, options, [&](const CurrentFile& current) {
      return cyberduck::render({current.path, current.content.value_or(std::string_view())}, login,
                               access_id, secret, others);
    });
  };
  if (spec.bookmarks.empty()) {
    return credentials(cyberduck::OtherLogins::remove);
  }
  // Every bookmark must be readable and for this host before anything is written.
  for (const auto& path : spec.bookmarks) {
    CREDROTD_TRY_ASSIGN(const FileContent file, read_bookmark_file(path));
    CREDROTD_TRY(cyberduck::render_bookmark({path, file.content}, login, access_id));
  }
  CREDROTD_TRY_ASSIGN(const WriteReport first, credentials(cyberduck::OtherLogins::keep));
  bool changed = first.changed;
  for (const auto& path : spec.bookmarks) {
    CREDROTD_TRY_ASSIGN(
        const WriteReport report,
        rewrite_file(path, WriteOptions{}, [&](const CurrentFile& current) {
          if (!current.content) {
            return core::Result<Content>(read_bookmark_file(path).error());
          }
          return cyberduck::render_bookmark({current.path, *current.content}, login, access_id);
        }));
    changed = changed || report.changed;
  }
  CREDROTD_TRY_ASSIGN(WriteReport last, credentials(cyberduck::OtherLogins::remove));
  last.old_sha256 = first.old_sha256;
  last.created = first.created;
  last.changed = changed || last.changed;
  return last;
}

} // namespace

std::optional<ConsumerType> parse_consumer_type(std::string_view name) noexcept
{
  for (const auto type :
       {ConsumerType::s3cmd, ConsumerType::aws_credentials, ConsumerType::rclone,
        ConsumerType::s3fs, ConsumerType::envfile, ConsumerType::template_, ConsumerType::cyberduck,
        ConsumerType::python, ConsumerType::systemd_credential}) {
    if (core::to_string(type) == name) {
      return type;
    }
  }
  return std::nullopt;
}

ConsumerSpec to_spec(const core::Consumer& c)
{
  ConsumerSpec spec;
  spec.type = c.type;
  spec.path = c.path;
  spec.profile = c.aws_profile;
  spec.create_profile = c.create_profile;
  spec.session_token = c.session_token;
  spec.remote = c.rclone_remote;
  spec.bucket = c.s3fs_bucket;
  spec.access_key_var = c.access_key_var;
  spec.secret_key_var = c.secret_key_var;
  spec.template_path = c.template_file;
  spec.url = c.url;
  spec.bookmarks = c.bookmarks;
  spec.mode = c.mode;
  spec.in_place = c.in_place;
  return spec;
}

core::Status check_spec(const ConsumerSpec& spec)
{
  if (spec.path.empty() || spec.path.front() != '/') {
    return config_error(spec, "path must be absolute");
  }
  if ((spec.mode & ~0777U) != 0) {
    return config_error(spec, "mode must be permission bits (at most 0777)");
  }
  switch (spec.type) {
  case ConsumerType::s3cmd:
    return {};
  case ConsumerType::aws_credentials:
    return prefixed(spec, aws_credentials::check_profile_name(spec.profile));
  case ConsumerType::rclone:
    return prefixed(spec, rclone::check_remote_name(spec.remote));
  case ConsumerType::s3fs:
    return prefixed(spec, s3fs::check_bucket_name(spec.bucket));
  case ConsumerType::envfile:
    CREDROTD_TRY(
        prefixed(spec, envfile::check_variable_name("access_key_var", spec.access_key_var)));
    CREDROTD_TRY(
        prefixed(spec, envfile::check_variable_name("secret_key_var", spec.secret_key_var)));
    if (spec.access_key_var == spec.secret_key_var) {
      return config_error(spec, "access_key_var and secret_key_var must differ");
    }
    return {};
  case ConsumerType::template_:
    if (spec.template_path.empty() || spec.template_path.front() != '/') {
      return config_error(spec, "template must be an absolute path");
    }
    if (spec.template_path == spec.path) {
      return config_error(spec, "template and path must be different files");
    }
    return {};
  case ConsumerType::python:
    return {};
  case ConsumerType::systemd_credential:
    if (const auto name = systemd_credential::name_of(spec.path); !name) {
      return config_error(spec, name.error().message);
    }
    return {};
  case ConsumerType::cyberduck:
    if (const auto login = cyberduck::parse_url(spec.url); !login) {
      return config_error(spec, login.error().message);
    }
    for (const auto& bookmark : spec.bookmarks) {
      if (bookmark.empty() || bookmark.front() != '/') {
        return config_error(spec, "bookmarks must be absolute paths");
      }
      if (bookmark == spec.path) {
        return config_error(spec, "a bookmark cannot be the credentials file");
      }
    }
    return {};
  }
  return config_error(spec, "unknown type");
}

core::Result<std::optional<KeyInFile>> read_key(const ConsumerSpec& spec)
{
  CREDROTD_TRY(check_spec(spec));
  CREDROTD_TRY_ASSIGN(const auto file, read_file(spec.path));
  if (!file) {
    return std::optional<KeyInFile>{};
  }
  const Source source{spec.path, file->content};
  core::Result<std::optional<FoundKey>> found = std::optional<FoundKey>{};
  switch (spec.type) {
  case ConsumerType::s3cmd:
    found = s3cmd::read(source);
    break;
  case ConsumerType::aws_credentials:
    found = aws_credentials::read(source, aws_options(spec));
    break;
  case ConsumerType::rclone:
    found = rclone::read(source, {spec.remote});
    break;
  case ConsumerType::s3fs:
    found = s3fs::read(source, {spec.bucket});
    break;
  case ConsumerType::envfile:
    found = envfile::read(source, {spec.access_key_var, spec.secret_key_var});
    break;
  case ConsumerType::template_: {
    CREDROTD_TRY_ASSIGN(const FileContent tmpl, read_template(spec));
    found = template_file::read(source, Source{spec.template_path, tmpl.content});
    break;
  }
  case ConsumerType::cyberduck:
    found = read_cyberduck(spec, source);
    break;
  case ConsumerType::python:
    found = python_script::read(source);
    break;
  case ConsumerType::systemd_credential:
    found = systemd_credential::read(spec.path, source.text);
    break;
  }
  CREDROTD_TRY_ASSIGN(auto key, std::move(found));
  if (!key) {
    return std::optional<KeyInFile>{};
  }
  return std::optional<KeyInFile>(
      KeyInFile{std::move(key->access_id), std::move(key->secret), file->real_path, key->line});
}

core::Result<WriteReport> apply(const ConsumerSpec& spec, std::string_view access_id,
                                const core::Secret& secret)
{
  CREDROTD_TRY(check_spec(spec));
  if (spec.type == ConsumerType::cyberduck) {
    return apply_cyberduck(spec, access_id, secret);
  }
  std::optional<FileContent> tmpl;
  if (spec.type == ConsumerType::template_) {
    CREDROTD_TRY_ASSIGN(tmpl, read_template(spec));
  }
  const Renderer render = [&](const CurrentFile& current) -> core::Result<Content> {
    const Source source{current.path, current.content.value_or(std::string_view())};
    // These clients need more in the file than the key; the others' files can be created.
    const bool needs_file = spec.type == ConsumerType::s3cmd || spec.type == ConsumerType::rclone ||
                            spec.type == ConsumerType::python;
    if (!current.content && needs_file) {
      return missing_file(spec);
    }
    const bool exists = current.content.has_value();
    switch (spec.type) {
    case ConsumerType::s3cmd:
      return s3cmd::render(source, {spec.session_token}, access_id, secret);
    case ConsumerType::aws_credentials:
      if (!exists && !spec.create_profile) {
        return core::make_error(core::Errc::not_found,
                                spec.path + " does not exist; create it, or set create_profile = "
                                            "true");
      }
      return exists ? aws_credentials::render(source, aws_options(spec), access_id, secret)
                    : aws_credentials::create(aws_options(spec), access_id, secret);
    case ConsumerType::rclone:
      return rclone::render(source, {spec.remote}, access_id, secret);
    case ConsumerType::s3fs:
      return exists ? s3fs::render(source, {spec.bucket}, access_id, secret)
                    : s3fs::create({spec.bucket}, access_id, secret);
    case ConsumerType::envfile: {
      const envfile::Options options{spec.access_key_var, spec.secret_key_var};
      return exists ? envfile::render(source, options, access_id, secret)
                    : envfile::create(options, access_id, secret);
    }
    case ConsumerType::template_:
      return template_file::render(Source{spec.template_path, tmpl->content}, access_id, secret);
    case ConsumerType::python:
      return python_script::render(source, access_id, secret);
    case ConsumerType::systemd_credential:
      return systemd_credential::render(spec.path, access_id, secret);
    case ConsumerType::cyberduck:
      break; // apply_cyberduck()
    }
    return config_error(spec, "unknown type");
  };
  return rewrite_file(spec.path, write_options(spec), render);
}

} // namespace credrotd::consumers
