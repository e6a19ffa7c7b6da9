#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A scripted reverse proxy in front of the real Keystone or Swift, injecting on demand the
faults a real server does not show: 5xx, a hang, garbage JSON, 401, or an S3 403 for keys
it is told to refuse. Everything else is forwarded unchanged. Loopback only.

    fault_proxy.py TARGET_URL RULES_FILE
prints "PORT <n>" and serves until stdin closes or SIGTERM. RULES_FILE is JSON, re-read on
every request, a list of rules:
    {"method": "POST", "path": "regex", "action": "500", "times": 3}
    {"method": "*", "path": "regex", "action": "hang"}
    {"s3_refuse_unless": "ACCESSID", "action": "403"}   # S3: 403 unless signed by that key
Actions: a status code ("500", "401", "403"), "hang", "garbage", "reset", "forward_garbage"
(the request reaches the server, which acts on it, but its answer is replaced by garbage with
the server's status: a 201 whose body cannot be parsed). "times" (default
unlimited) counts down in memory per rule index. A rule matches a request whose method
equals "method" (or "*") and whose path matches "path" (re.search).
"""

import http.client
import json
import re
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

import proxylib  # this folder

TARGET = urllib.parse.urlsplit(sys.argv[1])
RULES_FILE = sys.argv[2]
USED = {}
LOCK = threading.Lock()
STOP = threading.Event()


def matching_rule(method, path, headers):
    try:
        with open(RULES_FILE) as f:
            rules = json.load(f)
    except (OSError, ValueError):
        return None
    for i, rule in enumerate(rules):
        if "s3_refuse_unless" in rule:
            auth = headers.get("Authorization", "")
            if rule["s3_refuse_unless"] in auth:
                continue
        else:
            if rule.get("method", "*") not in ("*", method):
                continue
            if not re.search(rule.get("path", ""), path):
                continue
        with LOCK:
            left = rule.get("times")
            if left is not None:
                used = USED.get(i, 0)
                if used >= left:
                    continue
                USED[i] = used + 1
        return rule
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rule = matching_rule(self.command, self.path, self.headers)
        if rule is not None:
            action = rule["action"]
            if action == "hang":
                STOP.wait(600)
                self.close_connection = True
                return
            if action == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.close_connection = True
                return
            if action == "garbage":
                self.reply(200, b"{this is not json", "application/json")
                return
            if action == "forward_garbage":
                status = self.forward(body, relay=False)
                if status is not None:
                    self.reply(status, b"{this is not json", "application/json")
                return
            status = int(action)
            if status == 403 and "s3_refuse_unless" in rule:
                self.reply(403, b"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>"
                                b"SignatureDoesNotMatch</Code><Message>refused by the fault "
                                b"proxy</Message></Error>", "application/xml")
            else:
                doc = {"error": {"code": status, "title": "Injected",
                                 "message": "injected by the fault proxy"}}
                self.reply(status, json.dumps(doc).encode(), "application/json")
            return
        self.forward(body)

    def reply(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else 0))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self, body, relay=True):
        conn = http.client.HTTPConnection(TARGET.hostname, TARGET.port, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "keep-alive", "transfer-encoding")}
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:
            self.close_connection = True
            return None
        finally:
            conn.close()
        if relay:
            proxylib.relay(self, resp, data)
        return resp.status

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


def main():
    proxylib.serve(Handler, STOP)


if __name__ == "__main__":
    main()
