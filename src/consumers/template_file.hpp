// SPDX-License-Identifier: Apache-2.0
// Files rendered from a template: every {{access_key}} and {{secret_key}} (blanks allowed
// inside the braces) is replaced, every other byte of the template is copied. Covers boto3
// scripts, mc's config.json, restic env files and the like.
#pragma once

#include "consumers/format.hpp"

namespace credrotd::consumers::template_file {

// The template with the placeholders filled. Errc::config naming the template when it
// lacks either placeholder.
core::Result<Content> render(const Source& tmpl, std::string_view access_id,
                             const core::Secret& secret);

// The key in `output`, found by matching it against the template (placeholders match runs
// of [A-Za-z0-9+/=._-]; repeated placeholders must hold the same value). Errc::parse naming
// the output file and the first position that does not match: the file was edited by hand,
// or the template changed since the last rewrite.
core::Result<std::optional<FoundKey>> read(const Source& output, const Source& tmpl);

} // namespace credrotd::consumers::template_file
