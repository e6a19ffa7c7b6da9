#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Scale: many profiles rotated in one wave by credrotd --once, against Keystone under uwsgi
with several workers, compared with the rate Keystone itself sustains for the Keystone calls
of a rotation (create + list + delete) driven by a minimal loop with the same concurrency.

Setup: --users identities, --profiles profiles spread over them, each profile with three
consumer files (s3cmd, AWS credentials, rclone) holding a key made by hand. Then:
  wave 1   credrotd --once: every profile is due (never rotated): each rotation adopts the
           hand-made key (Keystone: token per identity, list), creates, writes, verifies with
           S3, deletes the old key and confirms it is refused;
  wave 2   credrotd --once --profile (all): the steady state, nothing to adopt;
  loops    the references, --concurrency threads with one token per identity:
           "keystone": per rotation POST /v3/credentials (create), GET .../OS-EC2 (list),
           DELETE of the previous key: the Keystone calls of a rotation;
           "same calls": exactly the requests a steady-state credrotd rotation makes (create,
           S3 ListBuckets signed with the new key, GET of the old key, DELETE, S3 ListBuckets
           with the old key, refused), without files, state or anything else of credrotd.
Reported: rotations per minute of each, credrotd's rate against the loop's, credrotd's peak
RSS (rusage), the spread of rotation durations and of finishing times (no profile starved).
Afterwards Keystone must hold exactly the keys the files name (no key leaked).

    /usr/bin/python3 bench/scale/bench_scale.py [--profiles 1000] [--keystone-workers 4]
"""

import argparse
import json
import os
import pathlib
import secrets as pysecrets
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import http.client

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402
from benchlib import testlib  # noqa: E402


def write_files(d, st, access, secret):
    d.mkdir(parents=True)
    testlib.SECRETS.add(secret)
    host = f"{st['S3_HOST']}:{st['S3_PORT']}"
    (d / "s3cfg").write_text(f"[default]\naccess_key = {access}\nsecret_key = {secret}\n"
                             f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\n")
    (d / "credentials").write_text(
        f"[default]\naws_access_key_id = {access}\naws_secret_access_key = {secret}\n")
    (d / "rclone.conf").write_text(
        f"[s3]\ntype = s3\nprovider = Other\naccess_key_id = {access}\n"
        f"secret_access_key = {secret}\nendpoint = {st['S3_URL']}\n")
    for f in d.iterdir():
        os.chmod(f, 0o600)


def held_access(d):
    for line in (d / "s3cfg").read_text().splitlines():
        if line.startswith("access_key = "):
            return line.split(" = ", 1)[1]
    return None


class Setup:
    def __init__(self, args, st, work):
        self.users = []
        clouds = ["clouds:"]
        t0 = time.monotonic()
        for u in range(args.users):
            (work / f"u{u}").mkdir()
            user = testlib.TestUser(st, work / f"u{u}", f"scale{u}")
            self.users.append(user)
            clouds += [f"  u{u}:", "    auth:", f"      auth_url: {st['KEYSTONE_URL']}",
                       f"      username: {user.name}", f"      password: {user.password}",
                       "      project_name: credrotd", "      user_domain_name: Default",
                       "      project_domain_name: Default", "    region_name: RegionOne"]
        (work / "clouds.yaml").write_text("\n".join(clouds) + "\n")
        os.chmod(work / "clouds.yaml", 0o600)
        self.dirs = []
        conf = [f'[daemon]\nstate_dir = "{work / "state"}"\n'
                f'clouds_file = "{work / "clouds.yaml"}"\nmax_concurrent = {args.concurrency}\n']
        for p in range(args.profiles):
            user = self.users[p % args.users]
            access, secret = user.keystone.create()
            d = work / "files" / f"p{p}"
            write_files(d, st, access, secret)
            self.dirs.append(d)
            conf.append(
                f'[profile.p{p}]\ncloud = "u{p % args.users}"\ns3_endpoint = "{st["S3_URL"]}"\n'
                f'grace = "0s"\n'
                f'[[profile.p{p}.consumer]]\ntype = "s3cmd"\npath = "{d / "s3cfg"}"\n'
                f'[[profile.p{p}.consumer]]\ntype = "aws-credentials"\n'
                f'path = "{d / "credentials"}"\n'
                f'[[profile.p{p}.consumer]]\ntype = "rclone"\npath = "{d / "rclone.conf"}"\n'
                f'remote = "s3"\n')
        self.conf = work / "credrotd.toml"
        self.conf.write_text("\n".join(conf))
        self.state = work / "state"
        print(f"setup: {args.users} users, {args.profiles} profiles, {3 * args.profiles} files "
              f"in {time.monotonic() - t0:.0f} s", flush=True)


def wave(args, setup, name, profiles_args):
    env = testlib.clean_env(CREDROTD_LOG="stderr")
    last_id = 0
    db_path = setup.state / "state.db"
    if db_path.exists():
        last_id = testlib.db_rows(setup.state, "SELECT coalesce(max(id), 0) FROM rotations")[0][0]
    load0 = benchlib.load_average()[0]
    rc, out, err, wall, cpu, maxrss = benchlib.run_measured(
        [str(args.credrotd), "--config", str(setup.conf), "--once", "--stats"] + profiles_args,
        env, timeout=3600, peak_rss=True)
    rows = testlib.db_rows(setup.state, "SELECT profile, outcome, started_at, finished_at, error "
                                        "FROM rotations WHERE id > ? ORDER BY id", (last_id,))
    outcomes = {}
    for _, outcome, _, _, _ in rows:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    failures = [(p, e) for p, o, _, _, e in rows if o != "succeeded"]
    durations = [(f - s) for _, o, s, f, _ in rows if o == "succeeded" and f]
    first_start = min(s for _, _, s, _, _ in rows)
    finish_offsets = sorted((f - first_start) / 1000 for _, o, _, f, _ in rows if f)
    stats = benchlib.parse_stats(out)
    rate = len(durations) / wall * 60
    print(f"{name}: {len(rows)} rotations in {wall:.1f} s = {rate:.0f} rotations/min; "
          f"outcomes {outcomes}; exit {rc}")
    print(f"  credrotd: CPU {cpu:.1f} s ({cpu / wall * 100:.0f}% of one core), peak RSS "
          f"{maxrss / 1024:.1f} MiB (target <= 32 MiB); "
          f"{stats[0] if stats else '?'} HTTP calls, {stats[2] / 1000 if stats else 0:.1f} s "
          f"in servers (summed over concurrent calls); load {load0:.2f} -> "
          f"{benchlib.load_average()[0]:.2f}")
    if durations:
        q = statistics.quantiles(durations, n=100) if len(durations) >= 100 else None
        print(f"  start (planned) to finish, waiting for a slot included: median {statistics.median(durations):.0f} ms, "
              f"p99 {q[98] if q else max(durations):.0f} ms, max {max(durations)} ms; "
              f"finished after {finish_offsets[0]:.1f} s (first) ... "
              f"{finish_offsets[len(finish_offsets) // 2]:.1f} s (half) ... "
              f"{finish_offsets[-1]:.1f} s (last)", flush=True)
    for p, e in failures[:5]:
        print(f"  FAILED {p}: {e}")
    return {"rotations": len(rows), "succeeded": len(durations), "wall": wall, "rate": rate,
            "maxrss": maxrss, "failures": failures}


class Reference:
    """The minimal loop: the Keystone calls of a rotation, nothing else."""

    def __init__(self, args, st, setup):
        self.args = args
        self.st = st
        self.base = st["KEYSTONE_URL"].rstrip("/")
        self.project_id = st["PROJECT_ID"]
        self.users = setup.users
        self.errors = []
        self.lock = threading.Lock()

    def request(self, method, path, token, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("X-Auth-Token", token)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()

    def s3_list(self, access, secret):
        """HTTP status of a SigV4 ListBuckets signed with the key (botocore signs)."""
        st = self.st
        req = botocore.awsrequest.AWSRequest(method="GET", url=st["S3_URL"] + "/")
        botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(access, secret), "s3",
                                  st["S3_REGION"]).add_auth(req)
        conn = http.client.HTTPConnection(st["S3_HOST"], int(st["S3_PORT"]), timeout=60)
        try:
            conn.request("GET", "/", headers=dict(req.headers.items()))
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def worker(self, index, count, tokens, keys, same_calls):
        for i in range(count):
            slot = index + i * self.args.concurrency  # which profile this rotation is for
            user = self.users[slot % len(self.users)]
            try:
                with self.lock:
                    token = tokens.get(user.user_id)
                if token is None:
                    token = user.keystone.token()
                    with self.lock:
                        tokens[user.user_id] = token
                access = pysecrets.token_hex(16)
                secret = pysecrets.token_hex(16)
                testlib.SECRETS.add(secret)
                blob = json.dumps({"access": access, "secret": secret})
                self.request("POST", "/credentials", token, {"credential": {
                    "type": "ec2", "user_id": user.user_id, "project_id": self.project_id,
                    "blob": blob}})
                old = keys.get(slot)
                if same_calls:
                    if self.s3_list(access, secret) != 200:
                        raise OSError("S3 refused the new key")
                    doc = json.loads(self.request(
                        "GET", f"/users/{user.user_id}/credentials/OS-EC2/{old}", token))
                    old_secret = doc["credential"]["secret"]
                    testlib.SECRETS.add(old_secret)
                    self.request("DELETE", f"/users/{user.user_id}/credentials/OS-EC2/{old}",
                                 token)
                    if self.s3_list(old, old_secret) != 403:
                        raise OSError("S3 still accepts the deleted key")
                else:
                    self.request("GET", f"/users/{user.user_id}/credentials/OS-EC2", token)
                    self.request("DELETE", f"/users/{user.user_id}/credentials/OS-EC2/{old}",
                                 token)
                keys[slot] = access
            except (urllib.error.URLError, OSError) as e:
                with self.lock:
                    self.errors.append(str(e))

    def prepare(self, rotations, keys):
        """An old key per profile slot, made outside the timing, for the first run to delete."""
        tokens = {}
        for slot in range(rotations):
            user = self.users[slot % len(self.users)]
            token = tokens.setdefault(user.user_id, user.keystone.token())
            access = pysecrets.token_hex(16)
            secret = pysecrets.token_hex(16)
            testlib.SECRETS.add(secret)
            self.request("POST", "/credentials", token, {"credential": {
                "type": "ec2", "user_id": user.user_id, "project_id": self.project_id,
                "blob": json.dumps({"access": access, "secret": secret})}})
            keys[slot] = access

    def run(self, rotations, keys, same_calls):
        tokens = {}
        self.errors = []
        per = [rotations // self.args.concurrency + (1 if i < rotations % self.args.concurrency
                                                     else 0)
               for i in range(self.args.concurrency)]
        threads = [threading.Thread(target=self.worker,
                                    args=(i, per[i], tokens, keys, same_calls))
                   for i in range(self.args.concurrency)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        rate = rotations / wall * 60
        what = "same calls as credrotd" if same_calls else "keystone: create + list + delete"
        print(f"reference loop ({what}, {self.args.concurrency} threads): "
              f"{rotations} rotations in {wall:.1f} s = {rate:.0f} rotations/min; "
              f"{len(self.errors)} errors", flush=True)
        if self.errors:
            testlib.fail(f"the reference loop failed: {self.errors[:3]}")
        return rate

    def cleanup(self, keys):
        tokens = {}
        for slot, access in keys.items():
            user = self.users[slot % len(self.users)]
            token = tokens.setdefault(user.user_id, user.keystone.token())
            try:
                self.request("DELETE", f"/users/{user.user_id}/credentials/OS-EC2/{access}",
                             token)
            except urllib.error.HTTPError:
                pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    benchlib.add_common_arguments(parser)
    parser.set_defaults(keystone_workers=4)
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100,
                        help="identities the profiles are spread over (default 100)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="credrotd's max_concurrent and the loop's threads (default 4, "
                             "credrotd's default)")
    args = parser.parse_args()
    if not args.credrotd.is_file():
        testlib.fail(f"{args.credrotd} is not built")

    benchlib.header(f"bench_scale: {args.profiles} profiles in one wave, {args.concurrency} at "
                    f"a time", args.credrotd)
    stack = benchlib.Stack(args)
    st = stack.env
    print(f"# Keystone workers: {st.get('KEYSTONE_WORKERS', '?')}", flush=True)
    work = benchlib.workdir("bench-scale", args.keep)
    setup = Setup(args, st, work)

    ref = Reference(args, st, setup)
    keys = {}
    ref.prepare(args.profiles, keys)
    before = {True: ref.run(args.profiles, keys, True), False: ref.run(args.profiles, keys, False)}
    w1 = wave(args, setup, "wave 1 (first rotations: adopt + rotate)", [])
    w2 = wave(args, setup, "wave 2 (steady state)",
              [a for p in range(args.profiles) for a in ("--profile", f"p{p}")])
    after = {True: ref.run(args.profiles, keys, True), False: ref.run(args.profiles, keys, False)}
    ref.cleanup(keys)
    print()
    for same, label in ((False, "keystone: create + list + delete"),
                        (True, "same calls as credrotd")):
        reference = max(before[same], after[same])
        print(f"reference ({label}): {before[same]:.0f} and {after[same]:.0f} rotations/min "
              f"(before and after the waves; the better one counts)")
        for name, w in (("wave 1", w1), ("wave 2", w2)):
            print(f"  {name}: {w['rate']:.0f} rotations/min = {w['rate'] / reference * 100:.0f}% "
                  f"of it (target >= 80%)")
    for name, w in (("wave 1", w1), ("wave 2", w2)):
        print(f"{name}: peak RSS {w['maxrss'] / 1024:.1f} MiB (target <= 32 MiB); "
              f"{w['succeeded']}/{args.profiles} profiles rotated")

    # Nothing leaked: each user's keys in Keystone are exactly the ones its profiles' files hold.
    expected = {}
    for p, d in enumerate(setup.dirs):
        expected.setdefault(p % args.users, set()).add(held_access(d))
    leaks = 0
    for u, user in enumerate(setup.users):
        held = set(user.keystone.keys())
        leaks += len(held - expected[u])
        testlib.check(expected[u] <= held, f"user {u}: a key the files name is not in Keystone")
    testlib.check(leaks == 0, f"{leaks} keys left in Keystone that no file names")
    print(f"Keystone holds exactly the {args.profiles} keys the files name: no key leaked")
    print(f"# load average at the end: "
          f"{'/'.join(f'{x:.2f}' for x in benchlib.load_average())}")
    testlib.scan_for_secrets([setup.state / "state.db", setup.state / "state.db-wal"])


if __name__ == "__main__":
    main()
