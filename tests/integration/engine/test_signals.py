#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The daemon under signals, against the real cloud.

- SIGHUP re-reads the configuration: a profile removed while it is rotating finishes its
  rotation; a profile added is scheduled (and, never having rotated, rotated at once).
- SIGTERM during a rotation's grace period stops the daemon promptly; the next start resumes
  the rotation, which waits out what is left of the persisted grace period (not a new one)."""

import datetime
import re
import signal
import socket
import threading
import time

from testlib import (Consumers, Daemon, PrivateBus, TestUser, Workdir, check, clean_env,
                     db_rows, profile_config, s3_accepts, scan_for_secrets, stack, wait_for)


def ms_to_s(ms):
    return ms / 1000.0


def phase_of(state, profile):
    if not (state / "state.db").exists():
        return None
    rows = db_rows(state, "SELECT phase FROM rotations WHERE profile = ? ORDER BY id DESC LIMIT 1",
                   (profile,))
    return rows[0][0] if rows else None


class Notifications:
    """Plays the service manager's $NOTIFY_SOCKET and keeps what credrotd sends."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.receive)
        self.thread.start()

    def receive(self):
        while not self.done.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def seen(self, text):
        return any(text in m for m in self.messages)

    def last_status(self):
        statuses = [line[len("STATUS="):] for m in list(self.messages) for line in m.split("\n")
                    if line.startswith("STATUS=")]
        return statuses[-1] if statuses else ""

    def stop(self):
        self.done.set()
        self.thread.join()
        self.sock.close()


def next_rotation(status):
    """(profile, epoch seconds) of "next rotation: NAME at YYYY-MM-DD HH:MM:SS TZ", or None."""
    found = re.search(r"next rotation: (\S+) at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", status)
    if not found:
        return None
    when = datetime.datetime.strptime(found.group(2), "%Y-%m-%d %H:%M:%S")
    return found.group(1), time.mktime(when.timetuple())


def main():
    st = stack()
    work = Workdir("signals")
    bus = PrivateBus(work.path)
    notify = Notifications(work.path / "notify.socket")
    env = clean_env(NOTIFY_SOCKET=notify.path, WATCHDOG_USEC=400000, **bus.env())
    state = work.path / "state"
    conf = work.path / "credrotd.toml"
    try:
        # A user per profile, so each profile adopts its own hand-made key.
        users, files = {}, {}
        for name in ("alpha", "beta", "gamma"):
            (work.path / name).mkdir()
            users[name] = TestUser(st, work.path / name, f"sig-{name}")
            files[name] = Consumers(work.path / name / "files", st)
            files[name].write(*users[name].keystone.create())
        user_a, user_b, user_c = users["alpha"], users["beta"], users["gamma"]
        a_files, b_files, c_files = files["alpha"], files["beta"], files["gamma"]

        # --- SIGHUP: alpha rotating (in grace), reload removes alpha and adds beta ---
        conf.write_text(profile_config("alpha", st, a_files, state, user_a,
                                       extra='grace = "3s"\ninterval = "1h"\njitter = "0s"\n'))
        daemon = Daemon(conf, work.path, env)
        wait_for(lambda: notify.seen("READY=1"), 10, "READY=1")
        check(notify.seen("STATUS="), "a STATUS= line comes with readiness")
        wait_for(lambda: phase_of(state, "alpha") == "grace", 30, "alpha to reach its grace period")
        beta = profile_config("beta", st, b_files, state, user_b,
                              extra='grace = "0s"\ninterval = "1h"\njitter = "0s"\n')
        conf.write_text(beta)
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in daemon.text(), 10, "the reload")
        check(notify.seen("RELOADING=1"), "RELOADING=1 on SIGHUP")
        wait_for(lambda: phase_of(state, "alpha") == "done", 30, "alpha's rotation to finish")
        wait_for(lambda: phase_of(state, "beta") == "done", 30, "beta's first rotation")
        # STATUS= follows the schedule: once beta has rotated, its next rotation is an interval
        # away, not the moment it just ran.
        wait_for(lambda: (next_rotation(notify.last_status()) or ("", 0))[1] > time.time() + 600,
                 10, "STATUS= to name a next rotation in the future")
        alpha_keys = a_files.keys()
        access, secret = alpha_keys["s3cmd"]
        check(s3_accepts(st, access, secret), "alpha's new key works")
        check(set(user_a.keystone.keys()) == {access}, "alpha's old key was retired after reload")
        check(daemon.proc.poll() is None, "the daemon is still running")

        # --- SIGTERM during grace: the grace deadline survives the restart ---
        wait_for(lambda: sum("WATCHDOG=1" in m for m in notify.messages) >= 3, 10,
                 "watchdog pings at half of WATCHDOG_USEC")
        daemon.signal(signal.SIGTERM)
        check(daemon.wait(10) == 0, "the daemon exits 0 on SIGTERM")
        check(notify.seen("STOPPING=1"), "STOPPING=1 on SIGTERM")
        # gamma has never rotated, so it is due as soon as the daemon starts.
        conf.write_text(profile_config("gamma", st, c_files, state, user_c,
                                       extra='grace = "4s"\ninterval = "1h"\njitter = "0s"\n'))
        daemon = Daemon(conf, work.path, env)
        wait_for(lambda: phase_of(state, "gamma") == "grace", 30, "gamma to reach its grace period")
        stopped_at = time.time()
        daemon.signal(signal.SIGTERM)
        rc = daemon.wait(10)
        check(rc == 0 and time.time() - stopped_at < 3, f"SIGTERM stops promptly: rc {rc}")
        grace_until, = db_rows(state, "SELECT grace_until FROM rotations WHERE profile = 'gamma' "
                                      "ORDER BY id DESC LIMIT 1")[0]
        check(phase_of(state, "gamma") == "grace", "the rotation is persisted in its grace period")
        daemon = Daemon(conf, work.path, env)
        wait_for(lambda: phase_of(state, "gamma") == "done", 30, "gamma's resumed rotation")
        finished, = db_rows(state, "SELECT finished_at FROM rotations WHERE profile = 'gamma' "
                                   "ORDER BY id DESC LIMIT 1")[0]
        check(finished >= grace_until, "the resumed rotation waited for the persisted grace end")
        check(ms_to_s(finished - grace_until) < 3.0,
              f"and did not start a new grace period ({ms_to_s(finished - grace_until):.1f} s late)")
        check("resuming rotation" in daemon.text(), "the restart says it resumed the rotation")
        access, secret = c_files.keys()["s3cmd"]
        check(s3_accepts(st, access, secret), "gamma's new key works")
        check(set(user_c.keystone.keys()) == {access}, "gamma's old key was retired")
        daemon.signal(signal.SIGTERM)
        check(daemon.wait(10) == 0, "clean exit")
    finally:
        notify.stop()
        bus.stop()
    scan_for_secrets([state / "state.db", state / "state.db-wal"])
    work.cleanup()
    print("PASS SIGHUP during a rotation, SIGTERM in grace and resume")


if __name__ == "__main__":
    main()
