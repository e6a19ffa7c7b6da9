# SPDX-License-Identifier: Apache-2.0
# Warning flags shared by every target; -Werror only when CREDROTD_WERROR is on (CI), so a
# user building with a newer compiler is not stopped by a new warning.
add_library(credrotd_warnings INTERFACE)
target_compile_options(
  credrotd_warnings
  INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
            -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
            # g++ 12 reports Asio's coroutine frame allocator as mismatched new/delete
            # (GCC bug 103722, a false positive on every awaitable coroutine).
            -Wno-mismatched-new-delete
            $<$<BOOL:${CREDROTD_WERROR}>:-Werror>)
