// SPDX-License-Identifier: Apache-2.0
// The interfaces (ports) through which the engine acts on the world; adapters implement them.
#pragma once

#include "core/error.hpp"
#include "core/rotation.hpp"
#include "core/secret.hpp"
#include "core/state.hpp"
#include "engine/state_port.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::engine {

template <class T> using Task = boost::asio::awaitable<T>;
using core::Result;
using core::Status;

// Who a profile authenticates as and where its keys live.
struct Identity {
  std::string user_id;
  std::string project_id;
};

// One EC2 credential as Keystone lists it. No secret: fetch it with secret_of() when needed.
struct KeyRecord {
  std::string access;
  std::string user_id;
  std::string project_id;
};

struct NewKey {
  std::string access;
  core::Secret secret;
};

// Keystone, bound to one profile's identity. Every call has its own retry budget (transient
// failures are retried inside); what comes back is final for this attempt. Errors use the
// core vocabulary: not_found, conflict, forbidden, auth_rejected, transient, timeout, tls,
// protocol.
class KeystonePort {
public:
  virtual ~KeystonePort() = default;
  virtual Task<Result<Identity>> identity() = 0;
  // The authenticated user's EC2 credentials, all projects.
  virtual Task<Result<std::vector<KeyRecord>>> list_keys() = 0;
  // One of the user's keys, without its secret; nullopt when the user has no key of that
  // access id. The default looks for it in list_keys(); an adapter may read just that one.
  virtual Task<Result<std::optional<KeyRecord>>> find_key(std::string access)
  {
    CREDROTD_CO_TRY_ASSIGN(const auto records, co_await list_keys());
    for (const auto& k : records) {
      if (k.access == access) {
        co_return std::optional<KeyRecord>{k};
      }
    }
    co_return std::optional<KeyRecord>{};
  }
  // The secret of one of the user's keys; not_found when Keystone has no such key, unsafe
  // when the key belongs to another user (an admin identity can read anybody's).
  virtual Task<Result<core::Secret>> secret_of(std::string access) = 0;
  // Creates a key with a caller-chosen access id (POST /v3/credentials). conflict when it
  // exists already; forbidden when policy refuses this method.
  virtual Task<Status> create_key(std::string access, core::Secret secret) = 0;
  // Creates a key with an id Keystone chooses (OS-EC2).
  virtual Task<Result<NewKey>> create_key_os_ec2() = 0;
  // Deletes one of the user's keys; not_found when it is already gone, unsafe when it
  // belongs to another user (nothing is deleted).
  virtual Task<Status> delete_key(std::string access) = 0;
  // The same for a key the caller has just read with secret_of(), which checked its owner:
  // an adapter may skip reading it again (one Keystone call less per retired key).
  virtual Task<Status> delete_read_key(std::string access)
  {
    co_return co_await delete_key(std::move(access));
  }
  // A fresh access id and secret from a CSPRNG, in Keystone's format.
  virtual NewKey generate_key() = 0;
};

// What an S3 verification of one key should show.
enum class Expect { accepted, rejected };

struct VerifyReport {
  core::VerifyResult result = core::VerifyResult::unavailable;
  std::string detail; // what was tried and what came back; never a secret
};

// The profile's S3 endpoint: runs the configured checks (ListBuckets, HEAD bucket, probe
// object) with the configured signature versions, retrying transient failures briefly.
class S3Port {
public:
  virtual ~S3Port() = default;
  virtual Task<VerifyReport> verify(std::string access, core::Secret secret, Expect expect) = 0;
};

struct WriteReport {
  std::string sha256_before; // hex; "" when the file did not exist
  std::string sha256_after;
};

// Secrets to replace by "<redacted>" in whatever a consumer's program prints before it goes
// into a message. Views of secrets the caller holds until the call completes.
using Redactions = std::vector<std::string_view>;

// The consumer files of one profile, and the programs that use them.
class ConsumersPort {
public:
  virtual ~ConsumersPort() = default;
  virtual std::size_t count() const = 0;
  // "s3cmd /home/alice/.s3cfg", for messages.
  virtual std::string describe(std::size_t index) const = 0;
  virtual std::string path(std::size_t index) const = 0;
  // The access id the file names today; nullopt when the file or its key is absent.
  virtual Result<std::optional<std::string>> read_access(std::size_t index) = 0;
  // Rewrites the file with this key (atomically, format-preserving).
  virtual Result<WriteReport> write(std::size_t index, const std::string& access,
                                    const core::Secret& secret) = 0;
  // Runs the consumer's own check command, if it has one (success when it has none). Every
  // string of `redact` is replaced in the output the error quotes.
  virtual Task<Status> check(std::size_t index, Redactions redact) = 0;
  // Reloads/restarts each affected unit once and runs the configured commands; `redact` as
  // for check().
  virtual Task<Status> reload(Redactions redact) = 0;
  // Whether any consumer runs a program of its own (a check or run command), whose output
  // may quote a key: only then must the engine hold the secrets to redact it.
  virtual bool runs_programs() const { return true; }
};

} // namespace credrotd::engine
