// SPDX-License-Identifier: Apache-2.0
// Whether a deleted key is confirmed refused by S3: the decisions behind confirm_retire.
#include "core/rotation.hpp"

#include <array>

namespace credrotd::core {

namespace {
constexpr std::array k_revocations{Revocation::refused, Revocation::pending, Revocation::accepted,
                                   Revocation::unchecked};
}

std::string_view to_string(Revocation revocation) noexcept
{
  switch (revocation) {
  case Revocation::refused:
    return "refused";
  case Revocation::pending:
    return "pending";
  case Revocation::accepted:
    return "accepted";
  case Revocation::unchecked:
    return "unchecked";
  }
  return "unknown";
}

std::optional<Revocation> revocation_from_string(std::string_view name) noexcept
{
  for (const auto r : k_revocations) {
    if (to_string(r) == name) {
      return r;
    }
  }
  return std::nullopt;
}

bool unconfirmed(Revocation revocation) noexcept
{
  return revocation != Revocation::refused;
}

RevocationCheck revocation_at_delete(std::string access, VerifyResult result, TimePoint deleted_at,
                                     Duration recheck_after)
{
  RevocationCheck check{std::move(access), Revocation::unchecked, std::nullopt};
  if (result == VerifyResult::rejected) {
    check.state = Revocation::refused;
  } else if (result == VerifyResult::accepted) {
    if (recheck_after > Duration::zero()) {
      check.state = Revocation::pending;
      check.recheck_at = deleted_at + recheck_after;
    } else {
      check.state = Revocation::accepted;
    }
  }
  return check;
}

Revocation revocation_at_recheck(VerifyResult result) noexcept
{
  switch (result) {
  case VerifyResult::rejected:
    return Revocation::refused;
  case VerifyResult::accepted:
    return Revocation::accepted;
  default:
    return Revocation::unchecked;
  }
}

} // namespace credrotd::core
