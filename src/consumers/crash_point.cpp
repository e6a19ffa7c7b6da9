// SPDX-License-Identifier: Apache-2.0
// The default crash_point(): does nothing. A strong definition elsewhere replaces it.
#include "consumers/crash_point.hpp"

namespace credrotd::consumers {

__attribute__((weak)) void crash_point(std::string_view /*name*/) {}

} // namespace credrotd::consumers
