#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Runs one Swift server in the foreground with every file it reads taken from the stack directory.
"""swift_serve.py SWIFT_DIR SERVER CONF

SERVER is proxy-server, account-server, container-server or object-server; CONF is its paste
config. Swift reads /etc/swift/swift.conf (hash prefix, storage policies, constraints) at import
time whatever swift_dir says; set_swift_dir() before anything else points it at SWIFT_DIR.
(Importing swift.common.utils still peeks at /etc/swift/swift.conf, ignoring it if absent or
incomplete; set_swift_dir() discards what it read.) Logs go
to stderr (the stack redirects it to a file) instead of syslog: /dev/log rarely exists where the
tests run, and swift would otherwise fall back to UDP datagrams to 127.0.0.1:514.
"""
import logging
import sys


class _NoSyslog(logging.NullHandler):
    def __init__(self, *args, **kwargs):
        super().__init__()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    swift_dir, server, conf = sys.argv[1:]

    from swift.common import utils

    utils.ThreadSafeSysLogHandler = _NoSyslog
    utils.set_swift_dir(swift_dir)

    from swift.common import constraints, storage_policy

    storage_policy.reload_storage_policies()
    constraints.reload_constraints()

    from swift.common.wsgi import run_wsgi

    # verbose: swift's console handler on stderr, which capture_stdio() leaves open.
    sys.exit(run_wsgi(conf, server, verbose=True))


if __name__ == "__main__":
    main()
