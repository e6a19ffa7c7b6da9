#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A duck bookmark as Python's plistlib reads it, for the tests.

usage: duck_bookmark.py write FILE USERNAME   (a bookmark as Cyberduck saves one)
       duck_bookmark.py read FILE             (prints the dictionary as sorted JSON)"""
import json
import plistlib
import sys

if sys.argv[1] == 'write':
    bookmark = {
        'Protocol': 's3',
        'Provider': 'iterate GmbH',
        'Nickname': 'Ceph & backups <main>',
        'UUID': '5f0c3a2e-9d8e-4b1a-a3c1-0b6f2a6f3d11',
        'Hostname': 's3.example.org',
        'Port': '443',
        'Username': sys.argv[3],
        'Path': '/backups',
        'Access Timestamp': '1733500000000',
        'Upload Folder Dictionary': {'Bookmark': 'abc', 'Path': '/home/alice'},
    }
    with open(sys.argv[2], 'wb') as f:
        plistlib.dump(bookmark, f)
else:
    with open(sys.argv[2], 'rb') as f:
        print(json.dumps(plistlib.load(f), sort_keys=True))
