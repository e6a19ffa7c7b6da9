# SPDX-License-Identifier: Apache-2.0
# The Debian package, built by CPack from what `cmake --install` installs: `cpack -G DEB` in a
# Release build configured with -DCREDROTD_FAULT_INJECTION=OFF -DCREDROTD_TESTS=OFF
# (scripts/package.sh does exactly that, then installs the package and checks it).

set(CREDROTD_PACKAGE_MAINTAINER "credrotd maintainers <credrotd@example.org>"
    CACHE STRING "Maintainer field of the Debian package")

# Debian policy: the copyright file and the changelog (compressed) next to the documentation.
# scripts/package.sh checks that the changelog's latest version is the project's.
install(FILES "${CMAKE_CURRENT_LIST_DIR}/debian/copyright" DESTINATION "${CMAKE_INSTALL_DOCDIR}")
add_custom_command(
  OUTPUT "${CMAKE_BINARY_DIR}/changelog.gz"
  COMMAND gzip -9n -c "${CMAKE_CURRENT_LIST_DIR}/debian/changelog" > "${CMAKE_BINARY_DIR}/changelog.gz"
  DEPENDS "${CMAKE_CURRENT_LIST_DIR}/debian/changelog"
  COMMENT "Compressing the changelog")
add_custom_target(changelog ALL DEPENDS "${CMAKE_BINARY_DIR}/changelog.gz")
install(FILES "${CMAKE_BINARY_DIR}/changelog.gz" DESTINATION "${CMAKE_INSTALL_DOCDIR}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME credrotd)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${CREDROTD_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "rotates the S3 keys (EC2 credentials) of an OpenStack cloud")
# The extended description: lines of at most 79 characters (Debian policy).
set(CPACK_PACKAGE_DESCRIPTION
    "credrotd is a systemd daemon that keeps the S3 keys of an OpenStack object
store fresh. On a schedule, or when asked with credrotctl, it creates a new
EC2 credential in Keystone, rewrites the files of the S3 clients that use it
(s3cmd, AWS credentials, rclone, s3fs, environment files, templates)
atomically, proves the new key works against the S3 endpoint, reloads the
programs that use it, waits a grace period and deletes the old key. Every
step is journaled, so a crash at any point converges to a safe state, and
only keys it created or adopted are ever deleted.")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
# Only what `cmake --install` of the default component installs: no test, tool or benchmark
# (they have no install rules, and packaged builds do not even build them).

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries: computed by dpkg-shlibdeps and appended to the runtime needs below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The system bus (dbus or dbus-broker) for the D-Bus API and unit reloads; systemd for the unit,
# systemd-sysusers and journalctl in postinst; init-system-helpers for deb-systemd-helper.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "default-dbus-system-bus | dbus-system-bus, systemd (>= 252), init-system-helpers (>= 1.52)")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "python3-openstackclient, s3cmd, awscli, rclone, s3fs, prometheus-node-exporter")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_LIST_DIR}/debian/conffiles" "${CMAKE_CURRENT_LIST_DIR}/debian/postinst"
    "${CMAKE_CURRENT_LIST_DIR}/debian/prerm" "${CMAKE_CURRENT_LIST_DIR}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# cpack refuses to package a build that carries test machinery (CPackProjectConfig.cmake).
set(CPACK_CREDROTD_FAULT_INJECTION "${CREDROTD_FAULT_INJECTION}")
set(CPACK_CREDROTD_SANITIZE "${CREDROTD_SANITIZE}")
set(CPACK_PROJECT_CONFIG_FILE "${CMAKE_CURRENT_LIST_DIR}/CPackProjectConfig.cmake")

include(CPack)
