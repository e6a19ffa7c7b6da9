// SPDX-License-Identifier: Apache-2.0
// capget/capset and the prctl() capability operations, without libcap.
#include "sys/capabilities.hpp"

#include <cerrno>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace credrotd::sys {

namespace {

// Version 3 of the interface: two 32-bit words per set.
struct RawSets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

std::uint64_t join(std::uint32_t low, std::uint32_t high) noexcept
{
  return (static_cast<std::uint64_t>(high) << 32) | low;
}

} // namespace

int read_capabilities(CapabilitySets& out) noexcept
{
  RawSets raw;
  if (::syscall(SYS_capget, &raw.header, raw.data) != 0) {
    return errno;
  }
  out.effective = join(raw.data[0].effective, raw.data[1].effective);
  out.permitted = join(raw.data[0].permitted, raw.data[1].permitted);
  out.inheritable = join(raw.data[0].inheritable, raw.data[1].inheritable);
  out.bounding = 0;
  out.ambient = 0;
  // Capabilities the running kernel does not know answer EINVAL: that is where the sets end.
  for (int cap = 0; cap < 64; ++cap) {
    const int bounding = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (bounding < 0) {
      break;
    }
    const int ambient = ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
    out.bounding |= static_cast<std::uint64_t>(bounding == 1) << cap;
    out.ambient |= static_cast<std::uint64_t>(ambient == 1) << cap;
  }
  return 0;
}

bool has_effective_capability(int cap) noexcept
{
  CapabilitySets sets;
  return cap >= 0 && cap < 64 && read_capabilities(sets) == 0 && (sets.effective >> cap & 1U) != 0;
}

int drop_bounding_set() noexcept
{
  for (int cap = 0; cap < 64; ++cap) {
    const int present = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) {
      break; // past the last capability the kernel knows
    }
    if (present == 1 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return errno;
    }
  }
  return 0;
}

int clear_capability_sets() noexcept
{
  // EINVAL: a kernel without ambient capabilities (before 4.3) has none to clear.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return errno;
  }
  // capset only when there is something to clear: an unprivileged process (the --user unit)
  // holds nothing, and its system call filter may refuse capset.
  RawSets raw;
  if (::syscall(SYS_capget, &raw.header, raw.data) != 0) {
    return errno;
  }
  bool any = false;
  for (const auto& word : raw.data) {
    any = any || word.effective != 0 || word.permitted != 0 || word.inheritable != 0;
  }
  if (!any) {
    return 0;
  }
  RawSets none; // all zero
  if (::syscall(SYS_capset, &none.header, none.data) != 0) {
    return errno;
  }
  return 0;
}

} // namespace credrotd::sys
