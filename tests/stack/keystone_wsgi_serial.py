# SPDX-License-Identifier: Apache-2.0
# Keystone's public WSGI application with its writing requests serialised across uwsgi workers.
"""Loaded by uwsgi (--wsgi-file) instead of keystone-wsgi-public when Keystone runs with more
than one worker process; the lock file is $CREDROTD_KEYSTONE_LOCK.

Keystone writes to SQLite in transactions that read first (a credential delete reads the row,
then deletes it). In WAL mode such a transaction fails at once with "database is locked"
(SQLITE_BUSY_SNAPSHOT: the busy timeout does not apply) if another worker committed since its
read began; Keystone then drops the connection without an answer. Measured with 4 workers and
4 clients creating and deleting credentials of one user: a fifth of the deletes failed. Only
transactions that write can fail this way, so every request that may write holds an exclusive
flock for its whole duration: writers queue, readers run alongside. "May write" is any method
but GET and HEAD, except POST /v3/s3tokens and /v3/ec2tokens: they check a signature against a
stored credential and issue a fernet token, which stores nothing, and they are what Swift calls
on every S3 request. (Even a token issue can write: a failed password check counts failures.) Real Keystones (MySQL, PostgreSQL) have row locks instead; this keeps the test
cloud's failures to those Keystone itself has, e.g. GET /v3/credentials answering 404 while a
credential of the listed user is being deleted (it lists ids, then reads each).
"""
import fcntl
import os

from keystone.server.wsgi import initialize_public_application

_keystone = initialize_public_application()
# Opened after uwsgi forked the worker (--lazy-apps): one open file description per worker,
# which is what makes flock exclude the other workers.
_lock = open(os.environ["CREDROTD_KEYSTONE_LOCK"], "a")
_READ_ONLY_POSTS = ("/v3/s3tokens", "/v3/ec2tokens")


def application(environ, start_response):
    method = environ.get("REQUEST_METHOD")
    path = environ.get("PATH_INFO", "").rstrip("/")
    if method in ("GET", "HEAD") or (method == "POST" and path in _READ_ONLY_POSTS):
        return _keystone(environ, start_response)
    fcntl.flock(_lock, fcntl.LOCK_EX)
    try:
        # The body is produced inside the lock: Keystone's work is done by then.
        result = _keystone(environ, start_response)
        try:
            return [b"".join(result)]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    finally:
        fcntl.flock(_lock, fcntl.LOCK_UN)
