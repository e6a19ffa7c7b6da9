#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A scripted HTTP(S) server (and CONNECT proxy) on loopback that shows, on demand, the faults
# a real server cannot: 5xx, 429 + Retry-After, hangs, garbage, endless or slow bodies,
# resets, stray bytes after a HEAD error, silent closes after a response (uwsgi).
"""Scripted fault server for credrotd's HTTP client tests.

Start:  fault_server.py [--tls-cert PEM --tls-key PEM] [--proxy [--proxy-auth USER:PASS]]
It listens on 127.0.0.1 on a free port, prints "PORT <n>" on stdout, and exits when its
standard input is closed or on SIGTERM. Loopback only: it never connects anywhere else.

Paths (server mode):
  /seq/<key>/<a1>,<a2>,...[/anything]
      The n-th request (any method) under <key> performs action a_n; the last action repeats.
  /ks/<key>/<a1>,<a2>,.../v3/...
      The same, where the action "ks" answers like a small Keystone (auth, OS-EC2 list,
      /v3/credentials create with 409 on duplicates); the catalog points back at this prefix.
  /__stats
      JSON: {"connections": n, "hits": {key: [{"t", "conn", "method", "path", "token"}]}}.
  anything else: 200 {"ok": true, "path": ...}

Actions:
  200, 404, 500, ...  that status with a small JSON body (Keystone's error shape for >= 400)
  <status>c           the same, then close the connection without saying so (uwsgi)
  429-<s>, 503-<s>    that status with "Retry-After: <s>"
  hang                read the request, never answer
  garbage             200 application/json whose body is not JSON
  endless             200 chunked body that never ends
  slow                200 with Content-Length 1000, 10 bytes every 200 ms
  reset               close with a TCP RST, no answer
  close               close with a FIN, no answer
  headstray           404 headers with "Transfer-Encoding: chunked", then "0\\r\\n\\r\\n" even for
                      HEAD (what Swift does on errors to HEAD)
  headstraylate       the same, the stray bytes 100 ms after the headers
  bigheader           200 with a 100 KiB header field
  echo                400 whose Keystone error message repeats the request body (as some
                      validation errors do): secrets must be scrubbed from messages
  ks                  the Keystone answer for the path
  ksold               the same, but tokens were issued 2 h ago and expire in 60 s

Proxy mode (--proxy): CONNECT host:port tunnels (loopback targets only), absolute-form
requests are forwarded; "/__stats" answers {"connections", "connects": [...], "forwards": [...]}.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time

STOP = threading.Event()
LOCK = threading.Lock()
STATE = {"connections": 0, "hits": {}, "connects": [], "forwards": [], "keystone": {}}

REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


class Closed(Exception):
    pass


class NotHttp(Exception):
    """The client spoke something else (a TLS ClientHello to a plain port)."""


def is_loopback(host):
    if host in ("localhost", "::1"):
        return True
    try:
        return socket.inet_aton(host)[0] == 127
    except OSError:
        return False


class Conn:
    def __init__(self, sock, conn_id):
        self.sock = sock
        self.id = conn_id
        self.buf = b""

    def read_until(self, marker, limit=1 << 20):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise Closed()
            data = self.sock.recv(65536)
            if not data:
                raise Closed()
            self.buf += data
            if self.buf[:1] == b"\x16":
                raise NotHttp()
        head, _, self.buf = self.buf.partition(marker)
        return head

    def read_exact(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise Closed()
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_request(self):
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if "content-length" in headers:
            body = self.read_exact(int(headers["content-length"]))
        return method, target, version, headers, body

    def send(self, data):
        self.sock.sendall(data)


def response_bytes(status, body=b"", headers=None, head=False, close=False):
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
    headers = dict(headers or {})
    headers.setdefault("Content-Type", "application/json")
    headers.setdefault("Content-Length", str(len(body)))
    if close:
        headers["Connection"] = "close"
    for name, value in headers.items():
        lines.append("%s: %s" % (name, value))
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if head else out + body


def json_body(status, message=None):
    if status >= 400:
        return json.dumps({"error": {"code": status, "title": REASONS.get(status, "Error"),
                                     "message": message or "fault %d" % status}}).encode()
    return json.dumps({"ok": True}).encode()


def record_hit(key, conn, method, path, headers):
    with LOCK:
        hits = STATE["hits"].setdefault(key, [])
        hits.append({"t": time.monotonic(), "conn": conn.id, "method": method, "path": path,
                     "token": headers.get("x-auth-token")})
        return len(hits) - 1


def sleep_until_stopped(limit):
    STOP.wait(limit)


def keystone_state(key):
    with LOCK:
        return STATE["keystone"].setdefault(key, {"tokens": 0, "creds": {}})


def keystone_answer(conn, key, prefix, method, rest, headers, body, head, old=False):
    """Answers like Keystone for the few calls credrotd makes."""
    scheme = "https" if isinstance(conn.sock, ssl.SSLSocket) else "http"
    host = headers.get("host", "127.0.0.1")
    base = "%s://%s%s" % (scheme, host, prefix)
    ks = keystone_state(key)

    def error(status, message):
        return response_bytes(status, json_body(status, message), head=head)

    if rest == "/v3/auth/tokens" and method == "POST":
        try:
            request = json.loads(body or b"{}")
            methods = request["auth"]["identity"]["methods"]
        except (ValueError, KeyError, TypeError):
            return error(400, "Expecting to find auth in request.")
        with LOCK:
            ks["tokens"] += 1
            token = "tok-%d" % ks["tokens"]
        now = datetime.datetime.utcnow()
        issued = now - datetime.timedelta(hours=2) if old else now
        expires = now + (datetime.timedelta(seconds=60) if old else datetime.timedelta(hours=1))
        doc = {"token": {
            "methods": methods,
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "user": {"id": "u-rotator", "name": "rotator",
                     "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p-demo", "name": "demo",
                        "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r-member", "name": "member"}, {"id": "r-reader", "name": "reader"}],
            "catalog": [
                {"type": "identity", "name": "keystone", "id": "s-1", "endpoints": [
                    {"id": "e-1", "interface": "public", "region": "RegionOne",
                     "region_id": "RegionOne", "url": base + "/v3"}]},
                {"type": "object-store", "name": "swift", "id": "s-2", "endpoints": [
                    {"id": "e-2", "interface": "public", "region": "RegionOne",
                     "region_id": "RegionOne", "url": base + "/swift/v1/AUTH_p-demo"}]},
            ],
        }}
        return response_bytes(201, json.dumps(doc).encode(),
                              {"X-Subject-Token": token}, head=head)
    with LOCK:
        current = "tok-%d" % ks["tokens"]
    if headers.get("x-auth-token") != current:
        return error(401, "The request you have made requires authentication.")
    if rest.startswith("/v3/users/") and rest.endswith("/credentials/OS-EC2") and method == "GET":
        with LOCK:
            creds = [{"user_id": "u-rotator", "tenant_id": c["project_id"], "access": a,
                      "secret": c["secret"], "trust_id": None} for a, c in ks["creds"].items()]
        if not creds:
            creds = [{"user_id": "u-rotator", "tenant_id": "p-demo",
                      "access": "0123456789abcdef0123456789abcdef",
                      "secret": "fedcba9876543210fedcba9876543210", "trust_id": None}]
        return response_bytes(200, json.dumps({"credentials": creds, "links": {}}).encode(),
                              head=head)
    if rest == "/v3/credentials" and method == "POST":
        try:
            cred = json.loads(body)["credential"]
            blob = json.loads(cred["blob"])
        except (ValueError, KeyError, TypeError):
            return error(400, "Invalid blob in credential")
        with LOCK:
            if blob["access"] in ks["creds"]:
                dup = True
            else:
                dup = False
                ks["creds"][blob["access"]] = {"secret": blob.get("secret"),
                                               "project_id": cred.get("project_id")}
        if dup:
            return error(409, "Conflict occurred attempting to store credential - "
                              "Duplicate entry found with ID %s." %
                              hashlib.sha256(blob["access"].encode()).hexdigest())
        cred = dict(cred, id=hashlib.sha256(blob["access"].encode()).hexdigest())
        return response_bytes(201, json.dumps({"credential": cred}).encode(), head=head)
    return error(404, "Could not find the resource.")


def perform(conn, action, method, key, prefix, rest, headers, body):
    """Performs one scripted action; returns False when the connection must end."""
    head = method == "HEAD"
    if action == "hang":
        sleep_until_stopped(120)
        return False
    if action == "close":
        return False
    if action == "reset":
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    if action == "garbage":
        conn.send(response_bytes(200, b'{"token": {"methods": [<<< not json', head=head))
        return True
    if action == "endless":
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
        deadline = time.monotonic() + 60
        while not STOP.is_set() and time.monotonic() < deadline:
            conn.send(chunk)
        return False
    if action == "slow":
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n")
        for _ in range(100):
            if STOP.wait(0.2):
                return False
            conn.send(b"x" * 10)
        return True
    if action in ("headstray", "headstraylate"):
        conn.send(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=UTF-8\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        if action == "headstraylate":
            time.sleep(0.1)
        conn.send(b"0\r\n\r\n")
        return True
    if action == "bigheader":
        conn.send(response_bytes(200, b"{}", {"X-Big": "y" * 100 * 1024}, head=head))
        return True
    if action == "echo":
        conn.send(response_bytes(400, json_body(400, body.decode("utf-8", "replace")), head=head))
        return True
    if action in ("ks", "ksold"):
        conn.send(keystone_answer(conn, key, prefix, method, rest, headers, body, head,
                                  old=action == "ksold"))
        return True
    close_after = action.endswith("c")
    if close_after:
        action = action[:-1]
    status_text, _, retry_after = action.partition("-")
    status = int(status_text)
    extra = {"Retry-After": retry_after} if retry_after else {}
    conn.send(response_bytes(status, json_body(status), extra, head=head))
    return not close_after


def serve_request(conn, method, target, headers, body):
    path = target.split("?", 1)[0]
    parts = path.split("/")
    if path == "/__stats":
        with LOCK:
            doc = json.dumps({"connections": STATE["connections"], "hits": STATE["hits"]})
        conn.send(response_bytes(200, doc.encode(), head=method == "HEAD"))
        return True
    if len(parts) >= 4 and parts[1] in ("seq", "ks"):
        key, actions = parts[2], parts[3].split(",")
        index = record_hit(key, conn, method, path, headers)
        action = actions[min(index, len(actions) - 1)]
        prefix = "/".join(parts[:4])
        rest = path[len(prefix):]
        return perform(conn, action, method, key, prefix, rest, headers, body)
    doc = json.dumps({"ok": True, "path": path, "method": method})
    conn.send(response_bytes(200, doc.encode(), head=method == "HEAD"))
    return True


def handle_server(conn):
    while not STOP.is_set():
        try:
            method, target, _, headers, body = conn.read_request()
        except NotHttp:
            conn.send(response_bytes(400, b"", close=True))  # what a real HTTP server does
            return
        except (Closed, ValueError):
            return
        if not serve_request(conn, method, target, headers, body):
            return
        if headers.get("connection", "").lower() == "close":
            return


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle_proxy(conn, proxy_auth):
    try:
        method, target, version, headers, body = conn.read_request()
    except (Closed, ValueError, NotHttp):
        return
    if target == "/__stats":
        with LOCK:
            doc = json.dumps({"connections": STATE["connections"], "connects": STATE["connects"],
                              "forwards": STATE["forwards"]})
        conn.send(response_bytes(200, doc.encode(), close=True))
        return
    if proxy_auth is not None:
        expected = "Basic " + base64.b64encode(proxy_auth.encode()).decode()
        if headers.get("proxy-authorization") != expected:
            conn.send(response_bytes(407, b"", {"Proxy-Authenticate": 'Basic realm="test"'},
                                     close=True))
            return
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        with LOCK:
            STATE["connects"].append(target)
        if not is_loopback(host):
            conn.send(response_bytes(403, b"", close=True))
            return
        try:
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            conn.send(response_bytes(502, b"", close=True))
            return
        upstream.settimeout(None)
        conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if conn.buf:
            upstream.sendall(conn.buf)
        thread = threading.Thread(target=pipe, args=(upstream, conn.sock), daemon=True)
        thread.start()
        pipe(conn.sock, upstream)
        thread.join(5)
        return
    if not target.startswith("http://"):
        conn.send(response_bytes(400, b"", close=True))
        return
    with LOCK:
        STATE["forwards"].append(target)
    rest = target[len("http://"):]
    authority, _, path = rest.partition("/")
    host, _, port = authority.rpartition(":")
    host = host.strip("[]")
    if not is_loopback(host):
        conn.send(response_bytes(403, b"", close=True))
        return
    lines = ["%s /%s %s" % (method, path, version)]
    for name, value in headers.items():
        if name not in ("proxy-authorization", "connection"):
            lines.append("%s: %s" % (name, value))
    lines.append("Connection: close")
    upstream = socket.create_connection((host, int(port or 80)), timeout=10)
    upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    reply = b""
    while True:
        data = upstream.recv(65536)
        if not data:
            break
        reply += data
    upstream.close()
    head, _, rest_body = reply.partition(b"\r\n\r\n")
    head_lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    head_lines.append(b"Connection: close")
    conn.send(b"\r\n".join(head_lines) + b"\r\n\r\n" + rest_body)


def connection_thread(sock, tls_context, proxy, proxy_auth):
    with LOCK:
        STATE["connections"] += 1
        conn_id = STATE["connections"]
    try:
        # Small writes (TLS session tickets, then the response) must not wait for delayed
        # ACKs: Nagle would add 40 ms that a real server does not show.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls_context is not None:
            sock.settimeout(10)
            sock = tls_context.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
        conn = Conn(sock, conn_id)
        if proxy:
            handle_proxy(conn, proxy_auth)
        else:
            handle_server(conn)
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--proxy", action="store_true")
    parser.add_argument("--proxy-auth")
    args = parser.parse_args()

    tls_context = None
    if args.tls_cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def accept_loop():
        while not STOP.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=connection_thread,
                             args=(sock, tls_context, args.proxy, args.proxy_auth),
                             daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=accept_loop, daemon=True).start()
    sys.stdout.write("PORT %d\n" % listener.getsockname()[1])
    sys.stdout.flush()
    # The parent test holds our stdin: when it closes it (or dies), we go.
    while sys.stdin.buffer.read(4096):
        pass
    STOP.set()
    os._exit(0)


if __name__ == "__main__":
    main()
