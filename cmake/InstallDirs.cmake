# SPDX-License-Identifier: Apache-2.0
# Where `cmake --install` puts the files that integrate credrotd with the system. The systemd
# directories come from systemd.pc (Debian 12: units in /lib/systemd/system), the rest follow
# GNUInstallDirs under the prefix (/usr by default, see the top-level CMakeLists.txt). Each is a
# cache variable, so a distribution or a test can point it elsewhere.

# pkg_get_variable(OUT module variable) leaves OUT empty when the module or variable is missing.
function(credrotd_install_dir out description module variable fallback)
  if(NOT DEFINED CACHE{${out}})
    set(value "")
    if(module)
      pkg_get_variable(value ${module} ${variable})
    endif()
    if(value STREQUAL "")
      set(value "${fallback}")
    endif()
    set(${out} "${value}" CACHE PATH "${description}")
  endif()
endfunction()

credrotd_install_dir(CREDROTD_SYSTEMD_SYSTEM_UNIT_DIR "systemd system units" systemd
                     systemdsystemunitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
credrotd_install_dir(CREDROTD_SYSTEMD_USER_UNIT_DIR "systemd user units" systemd
                     systemduserunitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/user")
credrotd_install_dir(CREDROTD_SYSUSERS_DIR "sysusers.d fragments" systemd sysusersdir
                     "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d")
credrotd_install_dir(CREDROTD_CATALOG_DIR "journald message catalogs" systemd catalogdir
                     "${CMAKE_INSTALL_PREFIX}/lib/systemd/catalog")
credrotd_install_dir(CREDROTD_BASH_COMPLETION_DIR "bash completions" bash-completion
                     completionsdir "${CMAKE_INSTALL_FULL_DATADIR}/bash-completion/completions")
# dbus-daemon reads these only under /usr/share (and /etc): no pkg-config variable
# is needed, and none exists without libdbus-1-dev.
credrotd_install_dir(CREDROTD_DBUS_DIR "D-Bus system.d, system-services and interfaces" ""
                     "" "${CMAKE_INSTALL_FULL_DATADIR}/dbus-1")

# A build with test machinery is never installed (nor packaged: cmake/CPackProjectConfig.cmake).
# Declared before any other install rule, so nothing is installed before the refusal.
if(CREDROTD_FAULT_INJECTION OR CREDROTD_SANITIZE)
  install(CODE "message(FATAL_ERROR \"credrotd: this build has CREDROTD_FAULT_INJECTION or \"
                       \"CREDROTD_SANITIZE on (test machinery); reconfigure with both OFF to install\")")
endif()
