# SPDX-License-Identifier: Apache-2.0
# Read by cpack before it packages: a package never contains fault injection or sanitizers.
if(CPACK_CREDROTD_FAULT_INJECTION)
  message(FATAL_ERROR "credrotd: this build has CREDROTD_FAULT_INJECTION=ON (crash points for "
                      "tests); configure packaged builds with -DCREDROTD_FAULT_INJECTION=OFF")
endif()
if(CPACK_CREDROTD_SANITIZE)
  message(FATAL_ERROR "credrotd: this build has CREDROTD_SANITIZE=ON; configure packaged builds "
                      "without it")
endif()
