#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A scripted reverse proxy in front of the real Keystone for the fault matrix: what
tests/integration/engine/fault_proxy.py cannot show. Loopback only.

    faults_proxy.py TARGET_URL RULES_FILE RECORD_FILE
prints "PORT <n>" and serves until stdin closes or SIGTERM. RULES_FILE is JSON, re-read on
every request, a list of rules:
    {"method": "POST", "path": "regex", "status": 429, "retry_after": 1, "times": 1}
        answer that status (Keystone's error body), with Retry-After when given;
    {"token_lifetime": 3}
        tokens issued through the proxy say they expire 3 s after issue (issued_at now), and
        requests bearing one after that get 401, as Keystone answers an expired token;
    {"token_lifetime": 3, "claimed_lifetime": 3600}
        the same 401 after 3 s, but the token says it lives an hour: a token that dies early
        (revoked, Keystone restarted with new keys), which only a 401 reveals.
"times" (default unlimited) counts down per rule. Everything else is forwarded unchanged.
RECORD_FILE gets one JSON line per event: {"event": "token"|"401"|"status", ...} and
{"event": "secret", "value": ...} for every EC2 secret that crosses the proxy (created keys in
POST /v3/credentials bodies, secrets in Keystone's answers), so that the tests can check that
even the keys credrotd made and deleted unseen appear in no output.
GET /__proxy_stats answers {"tokens": n, "401": n, "status": n}.
"""

import datetime
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine"))
import proxylib  # noqa: E402

TARGET = urllib.parse.urlsplit(sys.argv[1])
RULES_FILE = sys.argv[2]
RECORD_FILE = sys.argv[3]
LOCK = threading.Lock()
USED = {}
TOKENS = {}  # token -> monotonic deadline
STATS = {"tokens": 0, "401": 0, "status": 0}
STOP = threading.Event()


def rules():
    try:
        with open(RULES_FILE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return []


def record(**event):
    with LOCK:
        with open(RECORD_FILE, "a") as f:
            f.write(json.dumps(event) + "\n")


def take(index, rule):
    """Whether rule `index` may fire once more (its "times" budget)."""
    with LOCK:
        left = rule.get("times")
        if left is None:
            return True
        used = USED.get(index, 0)
        if used >= left:
            return False
        USED[index] = used + 1
        return True


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def secrets_in(data):
    """EC2 secrets in a Keystone request or answer body (OS-EC2 "secret", or the "blob" of a
    /v3/credentials document)."""
    out = []

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "secret" and isinstance(item, str):
                    out.append(item)
                elif key == "blob" and isinstance(item, str):
                    try:
                        walk(json.loads(item))
                    except ValueError:
                        pass
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    try:
        walk(json.loads(data))
    except ValueError:
        pass
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/__proxy_stats":
            with LOCK:
                self.reply(200, json.dumps(STATS).encode())
            return
        for secret in secrets_in(body):
            record(event="secret", value=secret)
        token = self.headers.get("X-Auth-Token")
        with LOCK:
            deadline = TOKENS.get(token) if token else None
        if deadline is not None and time.monotonic() > deadline:
            with LOCK:
                STATS["401"] += 1
            record(event="401", method=self.command, path=self.path)
            self.reply(401, json.dumps({"error": {
                "code": 401, "title": "Unauthorized",
                "message": "The request you have made requires authentication."}}).encode())
            return
        lifetime = None
        for i, rule in enumerate(rules()):
            if "token_lifetime" in rule:
                lifetime = rule
                continue
            if rule.get("method", "*") not in ("*", self.command):
                continue
            if not re.search(rule.get("path", ""), self.path) or not take(i, rule):
                continue
            status = int(rule["status"])
            with LOCK:
                STATS["status"] += 1
            record(event="status", status=status, method=self.command, path=self.path)
            headers = {}
            if "retry_after" in rule:
                headers["Retry-After"] = str(rule["retry_after"])
            self.reply(status, json.dumps({"error": {
                "code": status, "title": "Injected",
                "message": "injected by the faults proxy"}}).encode(), headers)
            return
        self.forward(body, lifetime)

    def reply(self, status, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else 0))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self, body, lifetime):
        conn = http.client.HTTPConnection(TARGET.hostname, TARGET.port, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "keep-alive", "transfer-encoding")}
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:
            self.close_connection = True
            return
        finally:
            conn.close()
        for secret in secrets_in(data):
            record(event="secret", value=secret)
        subject = resp.getheader("X-Subject-Token")
        if subject and self.command == "POST" and resp.status in (200, 201):
            with LOCK:
                STATS["tokens"] += 1
            record(event="token")
            if lifetime is not None:
                doc = json.loads(data)
                now = datetime.datetime.now(datetime.timezone.utc)
                claimed = lifetime.get("claimed_lifetime", lifetime["token_lifetime"])
                doc["token"]["issued_at"] = iso(now)
                doc["token"]["expires_at"] = iso(now + datetime.timedelta(seconds=claimed))
                data = json.dumps(doc).encode()
                with LOCK:
                    TOKENS[subject] = time.monotonic() + lifetime["token_lifetime"]
        proxylib.relay(self, resp, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


def main():
    proxylib.serve(Handler, STOP)


if __name__ == "__main__":
    main()
