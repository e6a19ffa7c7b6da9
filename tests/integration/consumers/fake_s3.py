#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Loopback-only fake S3 endpoint that logs the access key each request was signed with.

usage: fake_s3.py PORTFILE LOGFILE
Binds 127.0.0.1 on a free port, writes the port to PORTFILE once it listens, and appends
one line per request to LOGFILE: "<method> <path> access_key=<key> sig=<v2|v4|->".
The tests stop it by its PID."""
import http.server
import os
import re
import sys

PORTFILE, LOG = sys.argv[1], sys.argv[2]
BODY = (b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b'<Owner><ID>tester</ID><DisplayName>tester</DisplayName></Owner>'
        b'<Buckets><Bucket><Name>probe</Name><CreationDate>2024-01-01T00:00:00.000Z'
        b'</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>')


class Handler(http.server.BaseHTTPRequestHandler):
    def _handle(self):
        auth = self.headers.get('Authorization', '')
        # SigV4: Credential=<access>/<yyyymmdd>/... (an old hand-made access id may hold '/').
        m = re.search(r'Credential=([^,\s]+?)/\d{8}/', auth) or re.match(r'AWS ([^:]+):', auth)
        sig = 'v4' if 'AWS4-HMAC' in auth else ('v2' if auth.startswith('AWS ') else '-')
        with open(LOG, 'a') as f:
            f.write('%s %s access_key=%s sig=%s\n' % (self.command, self.path,
                                                       m.group(1) if m else '-', sig))
        n = int(self.headers.get('Content-Length') or 0)
        if n:
            self.rfile.read(n)
        self.send_response(200)
        self.send_header('Content-Type', 'application/xml')
        self.send_header('Content-Length', str(len(BODY)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(BODY)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
tmp = PORTFILE + '.tmp'
with open(tmp, 'w') as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, PORTFILE)
server.serve_forever()
