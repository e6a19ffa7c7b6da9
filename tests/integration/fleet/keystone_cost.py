#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What a rotation costs Keystone: counts the Keystone requests the daemon makes per rotation
(tokens, creates, lists, gets, deletes), the S3 requests it makes, and the Keystone requests
the S3 server makes for them (the /v3/s3tokens validation of each S3 request, the service
user's own tokens; with Ceph RGW also its read of the secret), in a few scenarios; and what an
idle daemon costs.

    /usr/bin/python3 tests/integration/fleet/keystone_cost.py [--rotations 10]
        [--stack-env FILE] [--rgw] [--scenario NAME ...] [--credrotd PATH]

Without --stack-env it starts a stack of its own (tests/stack/stack.sh, with --rgw Ceph RGW
too), so that Keystone's own log (uwsgi: one line per request) holds only the requests of this
run; the S3 server's calls are counted there. With --stack-env, only the requests that cross
the counting proxies are counted (credrotd's Keystone and S3 requests), unless --exclusive
says that nothing else uses that stack. credrotd reaches Keystone and S3 through
count_proxy.py. Each scenario runs one daemon (private D-Bus) whose profiles rotate every
second; the first rotation of each profile (adoption of the hand-made key, the first token) is
reported apart from the steady state. Prints one table row per scenario, per rotation.

Scenarios:
  default      one profile, the defaults: create_method auto (/v3/credentials), signature v4,
               checks list-buckets, confirm_retire true
  os-ec2       the same with create_method = "os-ec2"
  v2-v4        signature ["v2", "v4"], checks list-buckets and head-bucket
  profiles     4 profiles of one identity (one cloud) in one daemon
  reload       the default profile; a reload (SIGHUP) before every rotation
  idle         interval 30d: the first rotation, then --idle-seconds with nothing due
"""

import argparse
import collections
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "engine"))
import testlib  # noqa: E402
from fleetlib import CountProxy  # noqa: E402
from testlib import (Consumers, Daemon, PrivateBus, TestUser, check, clean_env,  # noqa: E402
                     db_rows, wait_for)

SOURCE_DIR = HERE.parents[2]
STACK_SH = SOURCE_DIR / "tests" / "stack" / "stack.sh"
UWSGI = re.compile(r"\] (\w+) (\S+) => generated \d+ bytes")
KINDS = ("token", "create", "list", "get", "delete", "s3", "s3tokens", "s3-other")
SCENARIOS = ("default", "os-ec2", "v2-v4", "profiles", "reload", "idle")


class KeystoneLog:
    """Keystone's requests as its uwsgi log lines show them, from a mark on."""

    def __init__(self, st):
        self.path = pathlib.Path(st["STACK_LOGS"]) / "keystone.log"
        self.offset = 0

    def mark(self):
        self.offset = self.path.stat().st_size

    def size(self):
        return self.path.stat().st_size

    def lines(self, end=None):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read() if end is None else f.read(end - self.offset)
            text = data.decode(errors="replace")
        return [(m[1], m[2]) for m in map(UWSGI.search, text.splitlines()) if m]


def finished(state, profiles):
    """Finished rotations per profile."""
    if not (state / "state.db").exists():
        return {}
    try:
        return dict(db_rows(state, "SELECT profile, sum(n) FROM outcome_counts WHERE outcome "
                                   "<> 'running' GROUP BY profile"))
    except Exception:  # noqa: BLE001  (being created)
        return {}


class Scenario:
    def __init__(self, args, st, work, name, ks_proxy, s3_proxy, log):
        self.args, self.st, self.name = args, st, name
        self.work = work / name
        self.work.mkdir()
        self.ks_proxy, self.s3_proxy, self.log = ks_proxy, s3_proxy, log
        self.user = TestUser(st, self.work, f"cost-{name}")
        self.user.write_clouds(ks_proxy.urls[0] + "/v3")
        self.state = self.work / "state"
        count = 4 if name == "profiles" else 1
        self.profiles = [f"p{i}" for i in range(count)]
        extra = 'interval = "1s"\njitter = "0s"\ngrace = "0s"\n'
        if name == "os-ec2":
            extra += 'create_method = "os-ec2"\n'
        elif name == "v2-v4":
            extra += (f'signature = ["v2", "v4"]\nchecks = ["list-buckets", "head-bucket"]\n'
                      f'bucket = "{args.bucket}"\n')
        elif name == "idle":
            extra = 'interval = "30d"\njitter = "0s"\ngrace = "0s"\n'
        conf = [f'[daemon]\nstate_dir = "{self.state}"\nclouds_file = "{self.user.clouds_file}"'
                '\n']
        for p in self.profiles:
            files = Consumers(self.work / p, st)
            files.write(*self.user.keystone.create())
            conf.append(f'[profile.{p}]\ncloud = "{self.user.cloud}"\n'
                        f's3_endpoint = "{s3_proxy.urls[0]}"\n{extra}\n'
                        f'[[profile.{p}.consumer]]\ntype = "s3cmd"\npath = "{files.paths["s3cmd"]}"\n'
                        f'\n[[profile.{p}.consumer]]\ntype = "aws-credentials"\n'
                        f'path = "{files.paths["aws-credentials"]}"\n\n')
        self.config = self.work / "credrotd.toml"
        self.config.write_text("\n".join(conf))

    def quiet(self):
        """(Keystone mark, S3 mark, finished rotations) at a moment when no rotation runs and
        no request crosses the proxies, or None."""
        # Keystone writes its log line right after answering: a quiet moment lasts long
        # enough for the last one to be in.
        marks = (self.ks_proxy.mark(), self.s3_proxy.mark())
        running = db_rows(self.state, "SELECT count(*) FROM rotations WHERE outcome = 'running'")
        done = sum(finished(self.state, self.profiles).values())
        if running[0][0] or marks != (self.ks_proxy.mark(), self.s3_proxy.mark()):
            return None
        time.sleep(0.2)
        if marks != (self.ks_proxy.mark(), self.s3_proxy.mark()):
            return None
        self.log_end = self.log.size() if self.log else None
        return marks + (done,)

    def counts(self, ks_mark, s3_mark, ks_end=None, s3_end=None):
        c = collections.Counter()
        for kind, n in self.ks_proxy.counts(ks_mark, end=ks_end).items():
            c[kind] += n
        c["s3"] += self.s3_proxy.counts(s3_mark, end=s3_end)["s3"]
        if self.log:
            ours = collections.Counter(self.ks_proxy.counts(ks_mark, end=ks_end))
            total = collections.Counter()
            for method, path in self.log.lines(self.log_end if ks_end is not None else None):
                if path.startswith("/v3/s3tokens"):
                    c["s3tokens"] += 1
                else:
                    total["all"] += 1
            c["s3-other"] = total["all"] - sum(ours.values())
        return c

    def run(self):
        bus = PrivateBus(self.work)
        daemon = None
        rows = []
        try:
            if self.log:
                self.log.mark()
            ks0, s30 = self.ks_proxy.mark(), self.s3_proxy.mark()
            daemon = Daemon(self.config, self.work, clean_env(**bus.env()))
            want = len(self.profiles)
            wait_for(lambda: sum(finished(self.state, self.profiles).values()) >= want, 120,
                     f"{self.name}: the first rotation of every profile")
            # The first rotations' requests have all been answered once they are recorded.
            first = self.counts(ks0, s30)
            rows.append(("first", want, first))
            if self.name == "idle":
                if self.log:
                    self.log.mark()
                ks1, s31 = self.ks_proxy.mark(), self.s3_proxy.mark()
                time.sleep(self.args.idle_seconds)
                rows.append((f"idle {self.args.idle_seconds} s", 1, self.counts(ks1, s31)))
                return rows
            # Steady state: the next --rotations rotations (whole ones: counted between two
            # moments when no rotation runs).
            start = sum(finished(self.state, self.profiles).values())
            if self.log:
                self.log.mark()
            ks1, s31 = self.ks_proxy.mark(), self.s3_proxy.mark()
            target = start + self.args.rotations
            done = start
            while done < target:
                if self.name == "reload":
                    daemon.signal(signal.SIGHUP)
                wait_for(lambda: sum(finished(self.state, self.profiles).values()) > done, 60,
                         f"{self.name}: rotation {done + 1}")
                done = sum(finished(self.state, self.profiles).values())
            # A consistent end: no rotation running, and no request made while that was read.
            end = wait_for(lambda: self.quiet(), 60, f"{self.name}: a moment without rotations")
            ks2, s32, done = end
            daemon.stop()
            daemon = None
            outcomes = db_rows(self.state, "SELECT outcome, sum(n) FROM outcome_counts WHERE "
                                           "n > 0 AND outcome <> 'running' GROUP BY outcome")
            check(dict(outcomes).keys() <= {"succeeded"},
                  f"{self.name}: rotations {dict(outcomes)}")
            rows.append(("steady", done - start, self.counts(ks1, s31, ks2, s32)))
            return rows
        finally:
            if daemon is not None:
                daemon.stop()
            bus.stop()


def make_bucket(st, name):
    import boto3
    import botocore.config
    user = testlib.Keystone(st)
    access, secret = user.create()
    client = boto3.session.Session().client(
        "s3", endpoint_url=st["S3_URL"], region_name=st["S3_REGION"],
        aws_access_key_id=access, aws_secret_access_key=secret,
        config=botocore.config.Config(s3={"addressing_style": "path"}))
    client.create_bucket(Bucket=name)
    user.delete(access)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rotations", type=int, default=10,
                        help="steady-state rotations counted per scenario (default 10)")
    parser.add_argument("--idle-seconds", type=int, default=120)
    parser.add_argument("--stack-env", type=pathlib.Path,
                        help="use a running stack instead of starting one")
    parser.add_argument("--exclusive", action="store_true",
                        help="nothing else uses the --stack-env stack: count the S3 server's "
                             "Keystone requests from Keystone's log")
    parser.add_argument("--rgw", action="store_true", help="S3 through Ceph RGW, not Swift")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--credrotd", type=pathlib.Path,
                        help="the credrotd binary (default: $CREDROTD_BINARY_DIR/daemon/"
                             "credrotd, else build/main)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.credrotd:
        testlib.CREDROTD = args.credrotd
    check(pathlib.Path(testlib.CREDROTD).is_file(), f"no credrotd at {testlib.CREDROTD}")

    started = None
    if args.stack_env:
        os.environ["CREDROTD_STACK_ENV"] = str(args.stack_env)
    else:
        started = pathlib.Path(tempfile.mkdtemp(prefix="credrotd-cost-stack-"))
        subprocess.run([str(STACK_SH), "start", str(started)] + (["--rgw"] if args.rgw else []),
                       check=True, stdout=subprocess.DEVNULL)
        os.environ["CREDROTD_STACK_ENV"] = str(started / "stack.env")
    if args.rgw:
        os.environ["CREDROTD_S3_BACKEND"] = "rgw"
    st = testlib.stack()
    work = pathlib.Path(tempfile.mkdtemp(prefix="credrotd-cost-"))
    ks_proxy = CountProxy(st["KEYSTONE_URL"].rsplit("/v3", 1)[0], work, name="keystone")
    s3_proxy = CountProxy(st["S3_URL"], work, name="s3")
    log = KeystoneLog(st) if (started or args.exclusive) else None
    args.bucket = f"cost-{os.getpid()}"
    try:
        make_bucket(st, args.bucket)
        git = subprocess.run(["git", "-C", str(SOURCE_DIR), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        print(f"# Keystone requests per rotation; {time.strftime('%Y-%m-%d %H:%M')}, commit "
              f"{git}, {testlib.CREDROTD}, S3 {'Ceph RGW' if args.rgw else 'Swift s3api'}")
        head = "| scenario | rotations | " + " | ".join(KINDS) + " | Keystone in all |"
        print(head)
        print("|" + "---|" * (len(KINDS) + 3))
        for name in args.scenario or SCENARIOS:
            for label, n, c in Scenario(args, st, work, name, ks_proxy, s3_proxy, log).run():
                per = [c[k] / max(n, 1) for k in KINDS]
                keystone = sum(v for k, v in zip(KINDS, per) if k != "s3")
                if not log:
                    keystone = sum(v for k, v in zip(KINDS, per) if k not in ("s3", "s3tokens",
                                                                             "s3-other"))
                other = c["other"] + c["validate"]
                cells = " | ".join(f"{v:.2f}".rstrip("0").rstrip(".") for v in per)
                print(f"| {name} ({label}) | {n} | {cells} | {keystone:.2f}"
                      + (f" (+{other} other)" if other else "") + " |", flush=True)
    finally:
        ks_proxy.stop()
        s3_proxy.stop()
        if started:
            subprocess.run([str(STACK_SH), "stop", str(started)], stdout=subprocess.DEVNULL)
            shutil.rmtree(started, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
