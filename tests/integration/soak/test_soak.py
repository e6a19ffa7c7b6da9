#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Soak: the daemon rotating back to back until it has done --rotations rotations, against the
real Keystone + Swift.

    test_soak.py --rotations N [--profiles P]

P profiles (each a Keystone user of its own, with one consumer file of every format) rotate
every second (interval 1s, jitter 0, grace 0: the shortest schedule the configuration allows),
so the daemon always has rotations to run, four at a time. Keystone is reached through the
faults proxy (no fault injected) so that every key credrotd makes, even the ones it deletes
unseen, joins the secret scan. When N rotations have finished the daemon is stopped
(SIGTERM) and credrotd --once finishes whatever was in flight. What must hold:
- every rotation succeeded;
- Keystone holds exactly one key per user, the one every consumer file of its profile names
  (no key leaked, none lost), and the state marks it current and every other key retired;
- every consumer works: S3 accepts every profile's key, and the real clients (s3cmd, aws,
  rclone) list the buckets with the files credrotd wrote for the first profile;
- the daemon's resident memory grew by at most 1 MiB between the end of the warm-up (a tenth
  of the rotations, at least 10) and the end;
- no temp file is left, and no secret appears in the daemon's log, the outputs or the state."""

import argparse
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from testlib import (FORMATS, OUTPUTS, Consumers, Daemon, KeystoneProxy, PrivateBus,  # noqa: E402
                     TestUser, Workdir, check, clean_env, db_rows, run, s3_accepts,
                     scan_for_secrets, stack, wait_for)


def memory_kib(pid):
    """{VmRSS, RssAnon, RssFile, RssShmem} of the process, in KiB."""
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(line.split()[1])
    return out


def rss_kib(pid):
    return memory_kib(pid).get("VmRSS", 0)


def describe(m):
    return (f"RSS {m['VmRSS']} KiB (anonymous {m['RssAnon']}, files {m['RssFile']}, "
            f"shared memory {m['RssShmem']})")


def finished(state):
    if not (state / "state.db").exists():
        return 0
    try:
        return db_rows(state, "SELECT count(*) FROM rotations WHERE outcome <> 'running'")[0][0]
    except Exception:  # the daemon is creating the database
        return 0


def client(argv, env_extra=None):
    proc = subprocess.run(argv, env=clean_env(**(env_extra or {})), capture_output=True,
                          text=True, timeout=120)
    OUTPUTS.append(("$ " + " ".join(argv), proc.stdout + proc.stderr))
    check(proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-300:]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rotations", type=int, required=True)
    parser.add_argument("--profiles", type=int, default=4)
    args = parser.parse_args()
    st = stack()
    work = Workdir("soak")
    proxy = KeystoneProxy(st, work.path)
    bus = PrivateBus(work.path)
    try:
        users, files = [], []
        conf = [f'[daemon]\nstate_dir = "{work.path / "state"}"\nmax_concurrent = 4\n']
        for p in range(args.profiles):
            d = work.path / f"p{p}"
            d.mkdir()
            user = TestUser(st, d, f"soak{p}")
            user.write_clouds(proxy.keystone_url)
            users.append(user)
            f = Consumers(d / "files", st)
            f.write(*user.keystone.create())
            files.append(f)
            section = f.config().replace("{name}", f"p{p}")
            conf.append(f'[profile.p{p}]\ncloud = "test-user"\ns3_endpoint = "{st["S3_URL"]}"\n'
                        'interval = "1s"\njitter = "0s"\ngrace = "0s"\n\n' + section)
        # One clouds.yaml per user: the profiles name it through the daemon-wide clouds_file,
        # so each profile gets a drop-in of its own... simpler: one file with a cloud per user.
        clouds = ["clouds:"]
        for p, user in enumerate(users):
            clouds.append(user.clouds_file.read_text().split("\n", 1)[1]
                          .replace("  test-user:", f"  soak{p}:"))
        clouds_file = work.path / "clouds.yaml"
        clouds_file.write_text("\n".join(clouds))
        clouds_file.chmod(0o600)
        text = "\n".join(conf).replace(
            "max_concurrent = 4\n", f'max_concurrent = 4\nclouds_file = "{clouds_file}"\n')
        for p in range(args.profiles):
            text = text.replace(f'[profile.p{p}]\ncloud = "test-user"',
                                f'[profile.p{p}]\ncloud = "soak{p}"')
        config = work.path / "credrotd.toml"
        config.write_text(text)
        state = work.path / "state"

        t0 = time.monotonic()
        daemon = Daemon(config, work.path, clean_env(**bus.env()))
        warmup = max(10, args.rotations // 10)
        wait_for(lambda: finished(state) >= warmup or daemon.proc.poll() is not None,
                 60 + 5 * warmup, f"{warmup} rotations")
        check(daemon.proc.poll() is None, f"the daemon exited: {daemon.text()[-2000:]}")
        mem_warm = memory_kib(daemon.proc.pid)
        rss_warm = mem_warm["VmRSS"]
        peak = rss_warm
        last_report = time.monotonic()
        while finished(state) < args.rotations:
            check(daemon.proc.poll() is None, f"the daemon exited: {daemon.text()[-2000:]}")
            check(time.monotonic() - t0 < 60 + 5 * args.rotations,
                  f"only {finished(state)} rotations in {time.monotonic() - t0:.0f} s")
            peak = max(peak, rss_kib(daemon.proc.pid))
            if time.monotonic() - last_report > 30:
                print(f"  {finished(state)} rotations after {time.monotonic() - t0:.0f} s, "
                      f"{describe(memory_kib(daemon.proc.pid))}", flush=True)
                last_report = time.monotonic()
            time.sleep(0.5)
        mem_end = memory_kib(daemon.proc.pid)
        rss_end = mem_end["VmRSS"]
        elapsed = time.monotonic() - t0
        daemon.stop()
        check(daemon.proc.returncode == 0, f"the daemon stopped with {daemon.proc.returncode}")
        # Finish what SIGTERM left in flight (it resumes; what is due rotates once more).
        run(["--config", config, "--once"], expect=0)

        rows = db_rows(state, "SELECT outcome, count(*) FROM rotations GROUP BY outcome")
        outcomes = dict(rows)
        total = sum(outcomes.values())
        check(set(outcomes) == {"succeeded"}, f"every rotation succeeded: {outcomes}")
        for p, (user, f) in enumerate(zip(users, files)):
            held = f.keys()
            access, secret = held["s3cmd"]
            for fmt in FORMATS:
                if fmt != "s3cmd":
                    check(held[fmt] == (access, secret), f"profile p{p}: {fmt} holds the key")
            check(set(user.keystone.keys()) == {access},
                  f"profile p{p}: Keystone holds exactly the key of the files (no leak)")
            roles = db_rows(state, "SELECT state, count(*) FROM keys WHERE profile = ? "
                                   "GROUP BY state", (f"p{p}",))
            check(dict(roles).get("current") == 1 and set(dict(roles)) <= {"current", "retired"},
                  f"profile p{p}: one current key, the others retired: {roles}")
            current = db_rows(state, "SELECT access FROM keys WHERE profile = ? AND "
                                     "state = 'current'", (f"p{p}",))
            check(current == [(access,)], f"profile p{p}: the current key is the files' key")
            check(s3_accepts(st, access, secret), f"profile p{p}: S3 accepts the key")
            check(f.stray_files() == [], f"profile p{p}: no temp file is left")
        f = files[0]
        home = work.path / "home"
        home.mkdir()
        client(["/usr/bin/s3cmd", "-c", str(f.paths["s3cmd"]), "ls"])
        client(["/usr/bin/aws", "--endpoint-url", st["S3_URL"], "--region", "us-east-1", "s3",
                "ls"], {"AWS_SHARED_CREDENTIALS_FILE": f.paths["aws-credentials"],
                        "AWS_CONFIG_FILE": "/nonexistent"})
        client(["/usr/bin/rclone", "--config", str(f.paths["rclone"]), "--ask-password=false",
                "lsd", "swift:"], {"HOME": home})
        growth = rss_end - rss_warm
        print(f"{total} rotations ({args.rotations} by the daemon in {elapsed:.0f} s, "
              f"{args.rotations / elapsed * 60:.0f}/min), all succeeded; after {warmup} rotations "
              f"{describe(mem_warm)}, at the end {describe(mem_end)}: {growth:+d} KiB; "
              f"peak {peak} KiB")
        check(growth <= 1024, f"RSS grew by {growth} KiB (more than 1 MiB)")
        proxy.stop()
        check(len(proxy.secrets_seen) >= args.rotations,
              f"the proxy caught the secret of every key made ({len(proxy.secrets_seen)} for "
              f"{args.rotations} rotations), so the scans below look for all of them")
        scan_for_secrets([state / "state.db", state / "state.db-wal"])
    finally:
        bus.stop()
        proxy.stop()
    work.cleanup()
    print(f"PASS soak: {args.rotations} rotations")


if __name__ == "__main__":
    main()
