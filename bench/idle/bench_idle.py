#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Idle cost of the daemon with many configured profiles: start-up time to READY=1, resident
memory after start-up and after a long idle time, and how often it wakes up when idle.

The daemon runs as systemd would run it (Type=notify, WatchdogSec=60s: NOTIFY_SOCKET and
WATCHDOG_USEC point at a socket of this script) on a private dbus-daemon. No profile is due
during the measurement (the state gives every profile a next rotation 30 days ahead), so the
daemon has nothing to do but answer the watchdog; it never contacts Keystone or S3, which is
why no cloud is needed. Each profile has three consumer files; the profiles are spread over
--users identities of one clouds.yaml.

Wake-ups are counted as the context switches of every thread of the daemon (a thread that
sleeps in epoll_wait and is woken counts one voluntary switch) and compared with the
WATCHDOG=1 messages received. With --strace, the system calls made during the last minute of
the idle period are listed (strace attached to the running daemon).

    /usr/bin/python3 bench/idle/bench_idle.py [--profiles 100] [--minutes 10] [--starts 10]
"""

import argparse
import os
import pathlib
import signal
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402
from benchlib import testlib  # noqa: E402

WATCHDOG_USEC = 60_000_000  # WatchdogSec=60s, as systemd/credrotd.service


def write_config(work, profiles, users, prefix="p"):
    """clouds.yaml, three consumer files per profile and credrotd.toml naming profiles
    PREFIX0, PREFIX1, ...; returns the path of credrotd.toml."""
    clouds = ["clouds:"]
    for u in range(users):
        clouds += [f"  user{u}:", "    auth:",
                   "      auth_url: http://127.0.0.1:9/v3",  # never contacted: nothing is due
                   f"      username: user{u}", f"      password: password-{u}-not-used",
                   "      project_name: credrotd", "      user_domain_name: Default",
                   "      project_domain_name: Default", "    region_name: RegionOne"]
    (work / "clouds.yaml").write_text("\n".join(clouds) + "\n")
    os.chmod(work / "clouds.yaml", 0o600)
    files = work / "files"
    files.mkdir()
    conf = [f'[daemon]\nstate_dir = "{work / "state"}"\nclouds_file = "{work / "clouds.yaml"}"\n']
    for p in range(profiles):
        access = f"{p:032x}"
        secret = f"{p + 1:032x}"
        d = files / f"p{p}"
        d.mkdir()
        (d / "s3cfg").write_text(f"[default]\naccess_key = {access}\nsecret_key = {secret}\n"
                                 "host_base = 127.0.0.1:9\nhost_bucket = 127.0.0.1:9\n")
        (d / "credentials").write_text(
            f"[default]\naws_access_key_id = {access}\naws_secret_access_key = {secret}\n")
        (d / "rclone.conf").write_text(
            f"[s3]\ntype = s3\nprovider = Other\naccess_key_id = {access}\n"
            f"secret_access_key = {secret}\nendpoint = http://127.0.0.1:9\n")
        conf.append(
            f'[profile.{prefix}{p}]\ncloud = "user{p % users}"\n'
            f's3_endpoint = "http://127.0.0.1:9"\n'
            f'[[profile.{prefix}{p}.consumer]]\ntype = "s3cmd"\npath = "{d / "s3cfg"}"\n'
            f'[[profile.{prefix}{p}.consumer]]\ntype = "aws-credentials"\n'
            f'path = "{d / "credentials"}"\n'
            f'[[profile.{prefix}{p}.consumer]]\ntype = "rclone"\npath = "{d / "rclone.conf"}"\n'
            f'remote = "s3"\n')
    (work / "credrotd.toml").write_text("\n".join(conf))
    return work / "credrotd.toml"


class Notify:
    """The NOTIFY_SOCKET systemd would give the service."""

    def __init__(self, work):
        self.path = work / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.watchdogs = 0

    def wait_for(self, what, timeout):
        """Waits for a message with the line `what`; returns the monotonic time it came."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                testlib.fail(f"no {what} from credrotd within {timeout} s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            at = time.monotonic()
            lines = data.splitlines()
            if "WATCHDOG=1" in lines:
                self.watchdogs += 1
            if what in lines:
                return at

    def pump(self, seconds):
        """Receives messages (counting watchdog pings) for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                if "WATCHDOG=1" in self.sock.recv(4096).decode().splitlines():
                    self.watchdogs += 1
            except socket.timeout:
                pass

    def drain(self):
        self.sock.settimeout(0)
        try:
            while True:
                if "WATCHDOG=1" in self.sock.recv(4096).decode().splitlines():
                    self.watchdogs += 1
        except (BlockingIOError, socket.timeout):
            pass


def memory(pid):
    """{VmRSS, RssAnon, RssFile, VmHWM, Pss, Private} in KiB. Private (the unique set size) is
    what the process alone holds; Pss shares each shared page among the processes mapping it."""
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
            out[key] = int(line.split()[1])
    out["Private"] = 0
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        if key == "Pss":
            out["Pss"] = int(value.split()[0])
        elif key in ("Private_Clean", "Private_Dirty"):
            out["Private"] += int(value.split()[0])
    return out


def rss_by_mapping(pid):
    """[(KiB, name)] of the resident memory of each mapped file (and [heap], [anon], ...)."""
    totals = {}
    name = None
    for line in pathlib.Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            name = head[5] if len(head) >= 6 else "[anonymous]"
        elif line.startswith("Rss:"):
            totals[name] = totals.get(name, 0) + int(head[1])
    return sorted(((kib, n) for n, kib in totals.items()), reverse=True)


def mib(kib):
    return f"{kib / 1024:.2f} MiB"


def start(args, conf, env, notify):
    t0 = time.monotonic()
    proc = subprocess.Popen([str(args.credrotd), "--config", str(conf)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ready = notify.wait_for("READY=1", 30)
    return proc, (ready - t0) * 1000


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    testlib.OUTPUTS.append(("credrotd daemon", err.decode(errors="replace")))
    return proc.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--credrotd", type=pathlib.Path, default=benchlib.default_credrotd())
    parser.add_argument("--profiles", type=int, default=100)
    parser.add_argument("--users", type=int, default=10,
                        help="identities the profiles are spread over (default 10)")
    parser.add_argument("--starts", type=int, default=10,
                        help="start-ups timed to READY=1 (default 10)")
    parser.add_argument("--minutes", type=float, default=10, help="idle time measured")
    parser.add_argument("--strace", action="store_true",
                        help="list the system calls of the last idle minute (strace -f -p)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not args.credrotd.is_file():
        testlib.fail(f"{args.credrotd} is not built")

    benchlib.header(f"bench_idle: {args.profiles} profiles ({args.users} identities, 3 consumers "
                    f"each), WatchdogSec=60s", args.credrotd)
    work = benchlib.workdir("bench-idle", args.keep)
    conf = write_config(work, args.profiles, args.users)
    bus = testlib.PrivateBus(work)
    notify = Notify(work)
    env = testlib.clean_env(NOTIFY_SOCKET=notify.path, WATCHDOG_USEC=WATCHDOG_USEC,
                            CREDROTD_LOG="stderr", **bus.env())
    try:
        # A first start creates the state and schedules every profile; push them all 30 days
        # out so that none is due while we measure.
        proc, _ = start(args, conf, env, notify)
        stop(proc)
        db = sqlite3.connect(work / "state" / "state.db")
        later = int(time.time() * 1000) + 30 * 86_400_000
        db.execute("UPDATE profiles SET next_due = ?", (later,))
        db.commit()
        scheduled = db.execute("SELECT count(*) FROM profiles").fetchone()[0]
        db.close()
        testlib.check(scheduled == args.profiles, f"{scheduled} profiles in the state")

        startups, ready_rss = [], []
        for _ in range(args.starts):
            proc, ms = start(args, conf, env, notify)
            startups.append(ms)
            ready_rss.append(memory(proc.pid)["VmRSS"])
            stop(proc)
        print(f"start-up to READY=1, {args.starts} starts: {benchlib.summary(startups)} ms "
              f"(median [min-max]; target <= 50 ms)")
        print(f"RSS at READY=1: {benchlib.summary([k / 1024 for k in ready_rss])} MiB")

        proc, ms = start(args, conf, env, notify)
        pid = proc.pid
        time.sleep(1)
        notify.drain()
        m0 = memory(pid)
        cpu0 = benchlib.cpu_seconds(pid)
        cs0 = benchlib.context_switches(pid)
        w0 = notify.watchdogs
        t0 = time.monotonic()
        print(f"after start-up (1 s after READY=1): RSS {mib(m0['VmRSS'])} (anonymous "
              f"{mib(m0['RssAnon'])}, files {mib(m0['RssFile'])}; PSS {mib(m0['Pss'])}, "
              f"private {mib(m0['Private'])}), threads "
              f"{len(list(pathlib.Path(f'/proc/{pid}/task').iterdir()))}", flush=True)
        print("  resident by mapping: " + ", ".join(
            f"{pathlib.Path(n).name} {kib / 1024:.2f}" for kib, n in rss_by_mapping(pid)[:14]) +
            " (MiB)", flush=True)
        samples = []
        end = t0 + args.minutes * 60
        next_report = t0 + 60
        while time.monotonic() < end:
            notify.pump(min(10, max(0.1, end - time.monotonic())))
            testlib.check(proc.poll() is None, "credrotd exited while idle")
            samples.append(memory(pid)["VmRSS"])
            if time.monotonic() >= next_report:
                print(f"  {int((time.monotonic() - t0) / 60)} min: RSS {mib(samples[-1])}, "
                      f"{notify.watchdogs - w0} watchdog pings", flush=True)
                next_report += 60
        notify.drain()
        elapsed_min = (time.monotonic() - t0) / 60
        m1 = memory(pid)
        cs1 = benchlib.context_switches(pid)
        cpu1 = benchlib.cpu_seconds(pid)
        pings = notify.watchdogs - w0
        voluntary = cs1[0] - cs0[0]
        involuntary = cs1[1] - cs0[1]
        print(f"after {elapsed_min:.1f} min idle: RSS {mib(m1['VmRSS'])} (anonymous "
              f"{mib(m1['RssAnon'])}, files {mib(m1['RssFile'])}; PSS {mib(m1['Pss'])}, "
              f"private {mib(m1['Private'])}), peak {mib(m1['VmHWM'])}; target <= 8 MiB")
        print(f"  RSS growth while idle: {m1['VmRSS'] - m0['VmRSS']:+d} KiB "
              f"(samples every 10 s: {mib(min(samples))} to {mib(max(samples))})")
        print(f"wake-ups while idle: {voluntary / elapsed_min:.2f} per minute (voluntary "
              f"context switches of all threads; involuntary {involuntary / elapsed_min:.2f}); "
              f"watchdog pings {pings / elapsed_min:.2f} per minute; CPU "
              f"{(cpu1 - cpu0) * 1000:.0f} ms in {elapsed_min:.1f} min")
        if args.strace:
            trace = work / "strace.txt"
            tracer = subprocess.Popen(["strace", "-f", "-tt", "-p", str(pid), "-o", str(trace)],
                                      stderr=subprocess.DEVNULL)
            time.sleep(60)
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=10)
            calls = {}
            for line in trace.read_text().splitlines():
                parts = line.split(None, 2)
                if len(parts) == 3 and "(" in parts[2]:
                    name = parts[2].split("(", 1)[0]
                    if not name.startswith("<"):
                        calls[name] = calls.get(name, 0) + 1
            print("system calls in 60 s of idling (strace -f -p):",
                  ", ".join(f"{n} x{c}" for n, c in sorted(calls.items())))
        rc = stop(proc)
        testlib.check(rc == 0, f"credrotd stopped with status {rc}")
    finally:
        bus.stop()
    print(f"# load average at the end: "
          f"{'/'.join(f'{x:.2f}' for x in benchlib.load_average())}")


if __name__ == "__main__":
    main()
