# SPDX-License-Identifier: Apache-2.0
# Keystone's public WSGI application made safe to run in several uwsgi workers on one SQLite file.
"""Loaded by uwsgi (--wsgi-file) instead of keystone-wsgi-public when Keystone runs with more
than one worker process; the lock file is $CREDROTD_KEYSTONE_LOCK. Two problems, one lock:

Writes. Keystone writes to SQLite in transactions that read first (a credential delete reads
the row, then deletes it). In WAL mode such a transaction fails at once with "database is
locked" (SQLITE_BUSY_SNAPSHOT: the busy timeout does not apply) if another worker committed
since its read began, and Keystone then drops the connection without an answer. Measured with
4 workers and 4 clients creating and deleting credentials of one user: a fifth of the deletes
failed. So every request that may write holds an exclusive flock for its whole duration:
writers queue, readers run alongside. "May write" is any method but GET and HEAD, except POST
/v3/s3tokens and /v3/ec2tokens: they check a signature against a stored credential and issue a
fernet token, which stores nothing, and Swift calls them on every S3 request. (Even a password
token issue can write: a failed check is counted.)

Caches. Each worker caches in its own memory (dogpile memory_pickle), and Keystone invalidates
only the cache of the worker that made a change: measured with 4 workers, a removed role still
gave tokens, a deleted application credential still showed, through the other workers. So a
request that wrote to the database (an INSERT, UPDATE or DELETE went to SQLite) appends one
byte to the lock file before it answers, and every request first compares the file's size with
the one its worker saw last: if it grew, the worker empties all of its cache regions. A request
that starts after a write has answered sees that write, as with one worker;
tests/stack/check_keystone_coherence.py checks it. Requests that only read (a token issue, most
of them) leave every cache warm.

Real Keystones (MySQL or PostgreSQL, memcached) have neither problem; this keeps the test
cloud's misbehaviour to what Keystone itself does, e.g. GET /v3/credentials answering 404
while a credential of the listed user is being deleted (it lists ids, then reads each).
"""
import fcntl
import gc
import os
import re

import sqlalchemy
from dogpile.cache.region import CacheRegion
from sqlalchemy.engine import Engine

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_wrote = False


@sqlalchemy.event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn, cursor, statement, parameters, context, executemany):
    global _wrote
    if not _wrote and _WRITE.match(statement):
        _wrote = True


from keystone.server.wsgi import initialize_public_application  # noqa: E402

_keystone = initialize_public_application()
# Opened after uwsgi forked the worker (--lazy-apps): one open file description per worker,
# which is what makes flock exclude the other workers. O_APPEND: the size counts the writes.
_lock = open(os.environ["CREDROTD_KEYSTONE_LOCK"], "ab", buffering=0)
_READ_ONLY_POSTS = ("/v3/s3tokens", "/v3/ec2tokens")
_seen_writes = os.fstat(_lock.fileno()).st_size
_cache_dicts = None


def _all_cache_dicts():
    """The dicts behind every configured cache region of this process (found once)."""
    dicts = []
    for obj in gc.get_objects():
        if isinstance(obj, CacheRegion) and obj.is_configured:
            backend = obj.backend
            while hasattr(backend, "proxied"):  # region.wrap() proxies
                backend = backend.proxied
            cache = getattr(backend, "_cache", None)  # dogpile's MemoryBackend
            if isinstance(cache, dict):
                dicts.append(cache)
    return dicts


def _forget_if_stale():
    global _seen_writes, _cache_dicts
    writes = os.fstat(_lock.fileno()).st_size
    if writes == _seen_writes:
        return
    if _cache_dicts is None:
        _cache_dicts = _all_cache_dicts()
    for cache in _cache_dicts:
        cache.clear()
    _seen_writes = writes


def application(environ, start_response):
    global _wrote
    _forget_if_stale()
    _wrote = False
    method = environ.get("REQUEST_METHOD")
    path = environ.get("PATH_INFO", "").rstrip("/")
    if method in ("GET", "HEAD") or (method == "POST" and path in _READ_ONLY_POSTS):
        return _keystone(environ, start_response)
    fcntl.flock(_lock, fcntl.LOCK_EX)
    try:
        # The body is produced inside the lock: Keystone's work is done by then.
        result = _keystone(environ, start_response)
        try:
            body = [b"".join(result)]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if _wrote:
            _lock.write(b".")
        return body
    finally:
        fcntl.flock(_lock, fcntl.LOCK_UN)
