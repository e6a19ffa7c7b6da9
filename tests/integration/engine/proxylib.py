# SPDX-License-Identifier: Apache-2.0
"""What the two scripted proxies of the tests share (engine/fault_proxy.py, the engine's
failure tests; faults/faults_proxy.py, the fault matrix): passing an upstream answer on, and
serving on a loopback port until stdin closes or SIGTERM."""

import signal
import socketserver
import sys
import threading

HOP_BY_HOP = ("connection", "keep-alive", "transfer-encoding", "content-length")


def relay(handler, resp, data):
    """Sends the upstream response `resp` (its body already read into `data`, possibly
    rewritten) to the client of `handler`, a BaseHTTPRequestHandler."""
    handler.send_response(resp.status, resp.reason)
    for k, v in resp.getheaders():
        if k.lower() not in HOP_BY_HOP:
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data) if handler.command != "HEAD" else 0))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler_class, stop):
    """Prints "PORT <n>" and serves on 127.0.0.1 until stdin closes or SIGTERM (either sets
    the threading.Event `stop`)."""
    server = Server(("127.0.0.1", 0), handler_class)
    print(f"PORT {server.server_address[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.shutdown()
