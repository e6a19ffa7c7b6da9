#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Parses FILE with systemd's own EnvironmentFile= parser and prints what a unit would get.

usage: sd_envfile.py FILE
Calls load_env_file() and strv_env_clean_with_callback() from Debian 12's
libsystemd-shared-252.so, as exec_context_load_environment() does. Prints one line per
assignment: "KEEP 'NAME=value'" or "DROPPED 'NAME=value'" (an invalid name systemd ignores).
Exits 1 when systemd would refuse the file (the unit would not start). A test tool: memory
is not freed."""
import ctypes
import glob
import sys

lib = ctypes.CDLL(glob.glob('/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-*.so')[0])
PP = ctypes.POINTER(ctypes.c_char_p)
lib.load_env_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(PP)]
lib.load_env_file.restype = ctypes.c_int
lib.strv_env_clean_with_callback.argtypes = [PP, ctypes.c_void_p, ctypes.c_void_p]
lib.strv_env_clean_with_callback.restype = PP


def strv(p):
    out, i = [], 0
    while p and p[i] is not None:
        out.append(p[i].decode('utf-8', 'backslashreplace'))
        i += 1
    return out


ret = PP()
r = lib.load_env_file(None, sys.argv[1].encode(), ctypes.byref(ret))
if r < 0:
    print('load_env_file failed: errno %d' % -r)
    sys.exit(1)
raw = strv(ret)
clean = strv(lib.strv_env_clean_with_callback(ret, None, None))
for e in raw:
    print(('KEEP ' if e in clean else 'DROPPED ') + repr(e))
