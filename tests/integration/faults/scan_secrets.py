#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The suite-wide secret check: no secret created or learnt anywhere in this ctest run appears
in any output captured during it.

    scan_secrets.py SCAN_DIR BINARY_DIR

Runs as the cleanup of the ctest fixture `secret_scan`, which every integration test
requires, so after all of them. Its inputs:
- SCAN_DIR/*.secrets, *.outputs: what each test process learnt and captured (the Python ones
  through tests/integration/engine/testlib.py at exit, the D-Bus tests through
  tests/integration/dbus/dbus_rig.cpp): the passwords of its Keystone users, the keys it
  made and read, the keys its consumer files held, every EC2 secret that crossed a faults
  proxy (including keys credrotd made and deleted unseen), and the stdout/stderr of every
  credrotd, client and daemon run it made;
- BINARY_DIR/Testing/Temporary/LastTest.log.tmp: ctest's own record of the output of every
  test finished so far in this run (C++ tests included): the file ctest renames to
  LastTest.log when the run ends;
- the stack's logs (Keystone, Swift) are not scanned: they are the servers' outputs, not ours.
Fails listing where a secret appeared (never the secret itself). A run that collected no
secret fails too: the check would prove nothing."""

import json
import pathlib
import sys


def main():
    scan_dir = pathlib.Path(sys.argv[1])
    binary_dir = pathlib.Path(sys.argv[2])
    secrets = set()
    outputs = []
    for f in sorted(scan_dir.glob("*.secrets")):
        for line in f.read_text().splitlines():
            value = json.loads(line)
            if len(value) >= 8:
                secrets.add(value)
    for f in sorted(scan_dir.glob("*.outputs")):
        for line in f.read_text().splitlines():
            item = json.loads(line)
            outputs.append((f"{f.stem}: {item['label'][:160]}", item["text"]))
    ctest_log = binary_dir / "Testing" / "Temporary" / "LastTest.log.tmp"
    if ctest_log.is_file():
        outputs.append(("ctest's log of this run (LastTest.log)",
                        ctest_log.read_text(errors="replace")))
    else:
        print(f"note: {ctest_log} does not exist (not run by ctest?): only the tests' own "
              "captures are scanned")
    if not secrets:
        print("FAIL: no secret was collected: the scan would prove nothing")
        return 1
    found = []
    for label, text in outputs:
        for secret in secrets:
            if secret in text:
                found.append(label)
                break
    processes = len(list(scan_dir.glob("*.secrets")))
    size = sum(len(t) for _, t in outputs)
    if found:
        print(f"FAIL: a secret appeared in {len(found)} output(s):")
        for label in found:
            print(f"  {label}")
        return 1
    print(f"secret scan of the whole run: {len(secrets)} secrets from {processes} test "
          f"processes, {len(outputs)} captured outputs ({size / 1e6:.1f} MB): clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
