// SPDX-License-Identifier: Apache-2.0
// The canonicalisation steps of SigV4 and SigV2, exposed one by one for tests and diagnostics.
#pragma once

#include "sign/encoding.hpp"
#include "sign/signer.hpp"

#include <span>
#include <string>
#include <string_view>

namespace credrotd::sign {

// SigV4 header value ("Trimall"): `raw` with blanks (SP, HTAB) trimmed at both ends, every line
// fold (CRLF or LF and the blanks after it) turned into one space, and each run of spaces
// collapsed into one. Other bytes, a tab inside the value included, are kept: the published
// rule speaks of spaces only.
std::string v4_header_value(std::string_view raw);

// SigV2 x-amz-* header value: blanks trimmed at both ends and each line fold replaced by one
// space; inner runs of spaces are kept (the S3 rule does not collapse them).
std::string v2_header_value(std::string_view raw);

// The SigV4 canonical URI of `path` (the path as sent) under `rules` (see UriRules).
std::string canonical_uri(std::string_view path, UriRules rules);

// RFC 3986 section 5.2.4 remove_dot_segments, with empty segments ("//") dropped too, as the
// generic SigV4 rules want: "//a/./b/../c/" becomes "/a/c/". Always starts with '/'.
std::string normalize_path(std::string_view path);

// The SigV4 canonical query string: each key and value uri_encode'd (slash encoded), pairs
// sorted by encoded key then encoded value, "k=v" joined by '&' ("acl" signs as "acl=").
std::string canonical_query_string(std::span<const QueryParam> params);

// True for the query parameters SigV2 signs as part of the resource ("?acl", "?versionId=3"):
// the list botocore 1.29 signs (HmacV1Auth.QSAOfInterest), a superset of the sub-resources
// and response-* overrides the S3 REST authentication guide lists. Case-sensitive.
bool is_v2_subresource(std::string_view key) noexcept;

// True when `name` is an HTTP field name (RFC 9110 token: letters, digits, !#$%&'*+-.^_`|~).
bool is_header_name(std::string_view name) noexcept;

// True when `value` can be sent as a header value: no NUL, no other control character but
// HTAB, and CR/LF only as a line fold (CRLF or LF followed by SP or HTAB, not at the end).
bool is_header_value(std::string_view value) noexcept;

} // namespace credrotd::sign
