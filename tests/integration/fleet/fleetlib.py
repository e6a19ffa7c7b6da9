# SPDX-License-Identifier: Apache-2.0
"""Helpers of the fleet test and the Keystone cost tool: the counting proxy (count_proxy.py)
run from Python, and one "host" — a credrotd daemon with its own state directory, consumer
files and private D-Bus, standing in for one machine of a fleet that shares a Keystone user."""

import collections
import json
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "engine"))
import testlib  # noqa: E402
from testlib import Consumers, Daemon, PrivateBus, check, clean_env, db_rows  # noqa: E402


class CountProxy:
    """count_proxy.py in front of `target` (a URL) on `ports` loopback ports. Every EC2 secret
    that crosses it joins testlib.SECRETS when the record is read."""

    def __init__(self, target, workdir, ports=1, name="count"):
        self.record_file = pathlib.Path(workdir) / f"{name}-{time.monotonic_ns()}.jsonl"
        self.record_file.touch(mode=0o600)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(HERE / "count_proxy.py"), target, str(self.record_file),
             str(ports)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        check(line.startswith("PORTS "), f"the counting proxy did not start: {line!r}")
        self.ports = [int(p) for p in line.split()[1:]]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.offset = 0

    def requests(self, since=0, end=None):
        """The request events recorded from byte `since` of the record to byte `end` (secrets
        go to testlib.SECRETS)."""
        out = []
        with open(self.record_file, "rb") as f:
            f.seek(since)
            data = f.read() if end is None else f.read(end - since)
        for line in data.decode().splitlines():
            event = json.loads(line)
            if event["event"] == "secret":
                testlib.SECRETS.add(event["value"])
            else:
                out.append(event)
        return out

    def mark(self):
        """A position in the record: requests(mark) are the ones made after it."""
        return self.record_file.stat().st_size

    def counts(self, since=0, port=None, end=None):
        """Counter of request kinds between `since` and `end` (of one port's client when
        given)."""
        return collections.Counter(e["kind"] for e in self.requests(since, end)
                                   if port is None or e["port"] == port)

    def stop(self):
        self.requests()
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# The consumers every host configures: two formats are enough here (every format has its own
# tests); the files of the other formats exist but are not configured.
HOST_FORMATS = ("s3cmd", "envfile")


class Host:
    """One machine of the fleet: a daemon with its state, files and bus under `root`."""

    def __init__(self, st, root, index, user, keystone_url, profile_extra=""):
        self.index = index
        self.name = f"host{index:02d}"
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True)
        self.state = self.root / "state"
        self.files = Consumers(self.root / "files", st)
        self.clouds = self.root / "clouds.yaml"
        user.clouds_file = self.clouds
        user.write_clouds(keystone_url)
        p = self.files.paths
        self.config = self.root / "credrotd.toml"
        self.config.write_text(
            f'[daemon]\nstate_dir = "{self.state}"\nclouds_file = "{self.clouds}"\n\n'
            f'[profile.{self.name}]\ncloud = "{user.cloud}"\ns3_endpoint = "{st["S3_URL"]}"\n'
            f'{profile_extra}\n'
            f'[[profile.{self.name}.consumer]]\ntype = "s3cmd"\npath = "{p["s3cmd"]}"\n\n'
            f'[[profile.{self.name}.consumer]]\ntype = "envfile"\npath = "{p["envfile"]}"\n')
        self.bus = PrivateBus(self.root)
        self.daemon = None
        self.starts = 0

    def start(self, **env):
        self.daemon = Daemon(self.config, self.root, clean_env(**self.bus.env(), **env))
        self.starts += 1

    def alive(self):
        return self.daemon is not None and self.daemon.proc.poll() is None

    def kill9(self):
        """SIGKILL, as a power cut or the OOM killer would; returns once it is reaped."""
        self.daemon.proc.kill()
        self.daemon.wait(10)

    def stop(self):
        if self.daemon is not None:
            self.daemon.stop()

    def close(self):
        self.stop()
        self.bus.stop()

    def logs(self):
        return "".join(p.read_text() for p in sorted(self.root.glob("credrotd-*.log")))

    def rows(self, sql, args=()):
        if not (self.state / "state.db").exists():
            return []
        for _ in range(50):
            try:
                return db_rows(self.state, sql, args)
            except Exception:  # noqa: BLE001  (the daemon is creating or migrating it)
                time.sleep(0.02)
        return db_rows(self.state, sql, args)

    def failing(self):
        """Whether the last rotation failed: the next one is then due only after the failure
        backoff (at least 5 minutes)."""
        rows = self.rows("SELECT consecutive_failures FROM profiles")
        return bool(rows and rows[0][0])

    def rotate_now(self):
        """`credrotctl rotate` on the host's bus, as an operator would after a failure.
        Returns credrotctl's exit status (a rotation already running is refused)."""
        ctl = pathlib.Path(testlib.CREDROTD).parent / "credrotctl"
        proc = subprocess.run([str(ctl), "rotate", self.name], env=clean_env(**self.bus.env()),
                              capture_output=True, text=True, timeout=60)
        testlib.OUTPUTS.append((f"$ credrotctl rotate {self.name}", proc.stdout + proc.stderr))
        return proc.returncode

    def running(self):
        return bool(self.rows("SELECT 1 FROM rotations WHERE outcome = 'running'"))

    def outcomes(self):
        return dict(self.rows("SELECT outcome, n FROM outcome_counts"))

    def keys(self):
        """{access: (state, origin)} of the host's state database."""
        return {a: (s, o) for a, s, o in self.rows("SELECT access, state, origin FROM keys")}

    def candidates(self):
        out = set()
        for (text,) in self.rows("SELECT candidates FROM rotations WHERE candidates <> ''"):
            out.update(line for line in text.splitlines() if line)
        return out

    def held(self):
        """{format: (access, secret)} of the configured consumer files."""
        keys = self.files.keys()
        return {fmt: keys[fmt] for fmt in HOST_FORMATS}
