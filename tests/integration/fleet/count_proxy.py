#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A counting reverse proxy in front of the real Keystone (or an S3 endpoint): forwards every
request unchanged and records what it was, so that tests and the cost tool can say which
requests a rotation makes and which client (listening port) made them. Loopback only.

    count_proxy.py TARGET_URL RECORD_FILE [PORTS]
listens on PORTS loopback ports (default 1), prints "PORTS <p1> <p2> ..." and serves until
stdin closes or SIGTERM. RECORD_FILE (create it 0600 first) gets one JSON line per request:
    {"event": "request", "port": p, "method": "GET", "kind": "get", "status": 200,
     "access": "..."}
kind is Keystone's operation: token (POST /v3/auth/tokens), validate (GET/HEAD
/v3/auth/tokens), create, list, get, delete (EC2 credentials, either API), s3tokens,
ec2tokens, s3 (anything else, e.g. an S3 request when the target is an S3 endpoint), other.
"access" is the EC2 access id the request acted on when it names one (the created key for a
create, from the request or the answer). Every EC2 secret that crosses the proxy is recorded
as {"event": "secret", "value": ...} so that the secret scans look for it; bodies and tokens
are never recorded.
"""

import http.client
import json
import os
import re
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine"))
import proxylib  # noqa: E402

TARGET = urllib.parse.urlsplit(sys.argv[1])
RECORD_FILE = sys.argv[2]
PORTS = int(sys.argv[3]) if len(sys.argv) > 3 else 1
LOCK = threading.Lock()
STOP = threading.Event()

OS_EC2 = re.compile(r"^/v3/users/[^/]+/credentials/OS-EC2(?:/([^/?]+))?/?(?:\?.*)?$")
CREDENTIALS = re.compile(r"^/v3/credentials(?:/([^/?]+))?/?(?:\?.*)?$")


def record(**event):
    line = json.dumps(event) + "\n"
    with LOCK:
        with open(RECORD_FILE, "a") as f:
            f.write(line)


def json_or_none(data):
    try:
        return json.loads(data)
    except ValueError:
        return None


def secrets_in(doc):
    """EC2 secrets in a Keystone body (OS-EC2 "secret", or the "blob" of /v3/credentials)."""
    out = []

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "secret" and isinstance(item, str):
                    out.append(item)
                elif key == "blob" and isinstance(item, str):
                    walk(json_or_none(item))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(doc)
    return out


def access_in(doc):
    """The access id of a single-credential body (OS-EC2, or a /v3/credentials blob)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("credential"), dict):
        return None
    credential = doc["credential"]
    if "access" in credential:
        return credential["access"]
    blob = json_or_none(credential.get("blob") or "")
    return blob.get("access") if isinstance(blob, dict) else None


def classify(method, path):
    """(kind, access id named by the path or None)."""
    if path.startswith("/v3/auth/tokens"):
        return ("token" if method == "POST" else "validate"), None
    if path.startswith("/v3/s3tokens"):
        return "s3tokens", None
    if path.startswith("/v3/ec2tokens"):
        return "ec2tokens", None
    m = OS_EC2.match(path)
    if m:
        one = m[1]
        if method == "POST":
            return "create", None
        if method == "DELETE":
            return "delete", one
        return ("get" if one else "list"), one
    m = CREDENTIALS.match(path)
    if m:
        one = m[1]  # the credential id (sha256 of the access id), not the access id
        if method == "POST":
            return "create", None
        if method == "DELETE":
            return "delete", None
        return ("get" if one else "list"), None
    if path.startswith("/v3"):
        return "other", None
    return "s3", None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind, access = classify(self.command, self.path)
        sent = json_or_none(body) if body and kind != "s3" else None
        for secret in secrets_in(sent):
            record(event="secret", value=secret)
        if kind == "create" and access is None:
            access = access_in(sent)
        conn = http.client.HTTPConnection(TARGET.hostname, TARGET.port, timeout=120)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "keep-alive", "transfer-encoding")}
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:
            record(event="request", port=self.server.server_address[1], method=self.command,
                   kind=kind, status=0, access=access)
            self.close_connection = True
            return
        finally:
            conn.close()
        if kind != "s3":
            answer = json_or_none(data)
            for secret in secrets_in(answer):
                record(event="secret", value=secret)
            if kind == "create" and access is None:
                access = access_in(answer)
        record(event="request", port=self.server.server_address[1], method=self.command,
               kind=kind, status=resp.status, access=access)
        try:
            proxylib.relay(self, resp, data)
        except OSError:  # the client is gone (a daemon killed while it waited)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


def main():
    servers = [proxylib.Server(("127.0.0.1", 0), Handler) for _ in range(PORTS)]
    print("PORTS " + " ".join(str(s.server_address[1]) for s in servers), flush=True)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    threading.Thread(target=lambda: (sys.stdin.read(), STOP.set()), daemon=True).start()
    STOP.wait()
    for s in servers:
        s.shutdown()


if __name__ == "__main__":
    main()
