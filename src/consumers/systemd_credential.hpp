// SPDX-License-Identifier: Apache-2.0
// systemd credentials (systemd 252): the key as an environment file (AWS_ACCESS_KEY_ID=...,
// AWS_SECRET_ACCESS_KEY=...) delivered with LoadCredential=NAME from /etc/credstore/NAME, or
// encrypted with the host key by `systemd-creds encrypt --name=NAME` into
// /etc/credstore.encrypted/NAME for LoadCredentialEncrypted=NAME.
//
// The credential's name is the file name; a file in a directory whose name ends in
// ".encrypted" is encrypted. systemd-creds gets the plaintext on stdin and gives it on
// stdout: a secret never appears in argv. systemd reads a credential once, at unit start:
// the units that use it are restarted, not reloaded (the configuration enforces it).
#pragma once

#include "consumers/format.hpp"

namespace credrotd::consumers::systemd_credential {

// True when `path` is in a "*.encrypted" directory (credstore.encrypted).
bool is_encrypted(std::string_view path);

// The credential's name: the last component of `path`. Errc::config when systemd would
// refuse it as a credential name.
core::Result<std::string> name_of(std::string_view path);

// The key in a credential file's bytes (decrypted first when encrypted); nullopt when the
// plaintext names none. Errc::io when systemd-creds fails (the message is its own, which
// never shows the plaintext), Errc::parse for a plaintext that is not the documented format.
core::Result<std::optional<FoundKey>> read(std::string_view path, std::string_view content);

// The new file content: the environment file, encrypted when is_encrypted(path).
core::Result<Content> render(std::string_view path, std::string_view access_id,
                             const core::Secret& secret);

} // namespace credrotd::consumers::systemd_credential
