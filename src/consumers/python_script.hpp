// SPDX-License-Identifier: Apache-2.0
// Python scripts with the key inline, as in providers' S3 guides:
//   boto3.resource('s3', endpoint_url=..., aws_access_key_id='AK', aws_secret_access_key='SK')
// (also boto3.client(...), boto3.Session(...) and any other call with those keyword
// arguments). Only the two string literals change, quotes and every other byte kept.
//
// The script is tokenized the way Python reads it as far as needed to find the keyword
// arguments outside comments and other strings. What cannot be rewritten safely is refused
// with file:line and what to change: a value that is not one plain string literal (a name, an
// f-string, a concatenation, a call), a triple-quoted or escaped literal, two different keys in
// one file. The better way is a profile in the AWS credentials file (type "aws-credentials")
// and boto3.Session(profile_name=...).
#pragma once

#include "consumers/format.hpp"

namespace credrotd::consumers::python_script {

// The key the script passes (every aws_access_key_id=/aws_secret_access_key= keyword argument
// holds the same one); nullopt when it passes none. Errc::parse (file:line:column) as above,
// and for a script Python would not tokenize (an unterminated string).
core::Result<std::optional<FoundKey>> read(const Source& source);

// The script with every aws_access_key_id= and aws_secret_access_key= literal holding the new
// key. Errc::not_found when the script passes no key (credrotd does not add arguments).
core::Result<Content> render(const Source& source, std::string_view access_id,
                             const core::Secret& secret);

} // namespace credrotd::consumers::python_script
