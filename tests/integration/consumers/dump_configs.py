#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prints, as one JSON array, what a real client's own parser reads from each FILE.

usage: dump_configs.py FORMAT FILE...
FORMAT aws:     botocore.configloader.raw_config_parse (the credentials file parser)
FORMAT s3cmd:   S3.Config.ConfigParser (s3cmd 2.3), values stripped as read_config_file does
FORMAT envfile: systemd 252's load_env_file + strv_env_clean_with_callback
Each element is {"ok": <what the client reads>} or {"error": "<message>"}."""
import ctypes
import glob
import json
import logging
import sys

logging.disable(logging.CRITICAL)  # s3cmd warns about the lines it ignores


def aws(path):
    import botocore.configloader
    return botocore.configloader.raw_config_parse(path)


def s3cmd(path):
    from S3.Config import ConfigParser
    return {k: v.strip() for k, v in ConfigParser(path).cfg.items()}


_lib = None


def envfile(path):
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(glob.glob('/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-*.so')[0])
        pp = ctypes.POINTER(ctypes.c_char_p)
        _lib.load_env_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(pp)]
        _lib.load_env_file.restype = ctypes.c_int
        _lib.strv_env_clean_with_callback.argtypes = [pp, ctypes.c_void_p, ctypes.c_void_p]
        _lib.strv_env_clean_with_callback.restype = pp
    pp = ctypes.POINTER(ctypes.c_char_p)
    ret = pp()
    r = _lib.load_env_file(None, path.encode(), ctypes.byref(ret))
    if r < 0:
        raise OSError(-r, 'load_env_file failed')

    def strv(p):
        out, i = [], 0
        while p and p[i] is not None:
            out.append(p[i].decode('utf-8', 'backslashreplace'))
            i += 1
        return out
    # The environment a unit gets: the clean list, in order.
    return strv(_lib.strv_env_clean_with_callback(ret, None, None))


parse = {'aws': aws, 's3cmd': s3cmd, 'envfile': envfile}[sys.argv[1]]
results = []
for path in sys.argv[2:]:
    try:
        results.append({'ok': parse(path)})
    except Exception as e:  # the client would refuse the file
        results.append({'error': '%s: %s' % (type(e).__name__, e)})
json.dump(results, sys.stdout)
