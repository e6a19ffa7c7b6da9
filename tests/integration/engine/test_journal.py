#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What credrotd sends to journald, and where secrets do not go.

systemd is not PID 1 here, so the test plays journald: credrotd runs in a mount namespace
whose /run/systemd/journal/socket is a datagram socket this test reads, and sd_journal_send
delivers its native-protocol entries there. Then:
- each event kind carries its MESSAGE_ID, a PRIORITY and the CREDROTD_* fields;
- no secret is in any journal field, in credrotd's argv or environment, in the argv or
  environment of the check command it runs, or in the SQLite files."""

import os
import socket
import struct
import subprocess
import threading

from testlib import (CREDROTD, OUTPUTS, Consumers, TestUser, Workdir, check, clean_env,
                     profile_config, scan_for_secrets, stack)

IDS = {
    "rotation_started": "3c15719645044dbeb540056719e6565f",
    "rotation_succeeded": "083833f2987d4ee3ba55e9d86b46a2db",
    "key_deleted": "f3b43076b87a43cbb890691a0017a887",
}


def parse_native(datagram):
    """journald's native protocol: KEY=VALUE lines, or KEY\\n<le64 size><value>\\n."""
    fields = {}
    i = 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            size = struct.unpack("<Q", datagram[nl + 1:nl + 9])[0]
            value = datagram[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[key.decode()] = value.decode(errors="replace")
    return fields


def main():
    st = stack()
    work = Workdir("journal")
    user = TestUser(st, work.path, "journal")
    files = Consumers(work.path / "files", st)
    files.write(*user.keystone.create())
    state = work.path / "state"

    # The check command records its own argv and environment.
    spy_out = work.path / "spy.txt"
    spy = work.path / "spy.sh"
    spy.write_text(f"#!/bin/sh\n{{ printf '%s\\n' \"$0\" \"$@\"; env; }} >> {spy_out}\n")
    os.chmod(spy, 0o755)
    conf = work.path / "credrotd.toml"
    conf.write_text(profile_config("j", st, files, state, user, extra='grace = "0s"\n').replace(
        'type = "s3cmd"', f'type = "s3cmd"\ncheck = ["{spy}", "--consumer", "s3cmd"]', 1))

    journal_dir = work.path / "journal"
    journal_dir.mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(journal_dir / "socket"))
    sock.settimeout(0.2)
    entries, raw = [], []
    done = threading.Event()

    def receive():
        while not done.is_set():
            try:
                data = sock.recv(1 << 20)
            except socket.timeout:
                continue
            raw.append(data)
            entries.append(parse_native(data))

    reader = threading.Thread(target=receive)
    reader.start()

    # In its own mount namespace, credrotd's /run is a tmpfs with our socket bound in place.
    script = ("set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/systemd/journal; "
              f"mount --bind {journal_dir} /run/systemd/journal; "
              f"exec {CREDROTD} --config {conf} --once --profile j")
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          env=clean_env(CREDROTD_LOG="journal"), capture_output=True, text=True,
                          timeout=120)
    OUTPUTS.append(("credrotd --once (journal)", proc.stdout + proc.stderr))
    done.set()
    reader.join()
    sock.close()
    check(proc.returncode == 0, f"credrotd exited {proc.returncode}: {proc.stderr[-500:]}")
    files.keys()  # learns the new secret

    check(entries, "credrotd sent entries to the journal socket")
    for e in entries:
        check("MESSAGE" in e and "PRIORITY" in e, f"an entry without MESSAGE/PRIORITY: {e}")
        check(e.get("SYSLOG_IDENTIFIER") == "credrotd", f"SYSLOG_IDENTIFIER: {e}")
    by_id = {}
    for e in entries:
        by_id.setdefault(e.get("MESSAGE_ID"), []).append(e)
    for kind, mid in IDS.items():
        check(mid in by_id, f"no {kind} entry (MESSAGE_ID {mid}) among {len(entries)} entries")
        e = by_id[mid][0]
        check(e.get("CREDROTD_PROFILE") == "j", f"{kind}: CREDROTD_PROFILE: {e}")
        check(e.get("CREDROTD_ROTATION", "").isdigit(), f"{kind}: CREDROTD_ROTATION: {e}")
        check(e.get("CREDROTD_PHASE"), f"{kind}: CREDROTD_PHASE: {e}")
        check(len(e.get("CREDROTD_ACCESS_ID", "")) == 32, f"{kind}: CREDROTD_ACCESS_ID: {e}")
    check(by_id[IDS["rotation_succeeded"]][0]["PRIORITY"] == "5", "success is a notice")
    print(f"journal: {len(entries)} entries, MESSAGE_IDs {sorted(k for k in by_id if k)}")

    OUTPUTS.append(("journal datagrams", b"".join(raw).decode(errors="replace")))
    check(spy_out.exists(), "the check command ran")
    OUTPUTS.append(("check command argv and environment", spy_out.read_text()))
    scan_for_secrets([state / "state.db", state / "state.db-wal"])
    work.cleanup()
    print("PASS journal fields and no secret in journal, argv, environment or SQLite")


if __name__ == "__main__":
    main()
