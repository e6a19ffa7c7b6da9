// SPDX-License-Identifier: Apache-2.0
// Secret: a non-copyable string that wipes every buffer it ever used and never prints itself.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <new>
#include <string>
#include <string_view>

namespace credrotd::core {

// Overwrites memory in a way the optimiser cannot remove (OPENSSL_cleanse).
void wipe(void* data, std::size_t size) noexcept;

// Allocator that wipes each block before freeing it, so a string that grows and reallocates
// leaves no stale copy of its content on the heap.
template <class T> struct WipingAllocator {
  using value_type = T;
  WipingAllocator() noexcept = default;
  template <class U> WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept
  {
    wipe(p, n * sizeof(T));
    ::operator delete(p);
  }
  template <class U> bool operator==(const WipingAllocator<U>&) const noexcept { return true; }
};

using WipingString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

// Holds a secret access key, password or token. Contract:
// - cannot be copied, only moved (clone() makes an explicit copy);
// - every buffer it used, including the small-string buffer inside the object, is wiped
//   when released;
// - prints as "<redacted>" through operator<<; the only way to the bytes is reveal(),
//   which is easy to grep for;
// - compares in constant time for equal lengths.
class Secret {
public:
  Secret() = default;
  explicit Secret(std::string_view value);
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  ~Secret();

  // Copies `value` and wipes the caller's string, for secrets arriving in a std::string
  // (a parsed JSON document, a line read from a file).
  static Secret take(std::string& value);

  std::string_view reveal() const noexcept { return {m_value.data(), m_value.size()}; }
  bool empty() const noexcept { return m_value.empty(); }
  std::size_t size() const noexcept { return m_value.size(); }
  Secret clone() const { return Secret(reveal()); }

  friend bool operator==(const Secret& a, const Secret& b) noexcept;

private:
  void wipe_buffer() noexcept;

  WipingString m_value;
};

std::ostream& operator<<(std::ostream& out, const Secret& secret);

} // namespace credrotd::core
