#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The state store at size, end to end: `credrotctl status` and `credrotctl history` against a
running credrotd whose state holds a million rotations, timed as the operator sees them
(credrotctl started, its D-Bus call answered by the daemon, the table printed, exit).

bench_store (C++) fills the database (--rows rotations over --profiles profiles named
profile-N); the daemon runs with a configuration of those profiles (3 consumer files each,
as bench/idle writes them) on a private dbus-daemon, with nothing due (next rotation 30 days
ahead), so it never contacts a cloud. Also reported: start-up to READY=1 on that database
(Store::open's quick_check reads all of it).

    /usr/bin/python3 bench/store/bench_cli.py [--rows 1000000] [--profiles 100] [--repeat 20]
"""

import argparse
import pathlib
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "idle"))
import benchlib  # noqa: E402
from benchlib import testlib  # noqa: E402
import bench_idle  # noqa: E402


def timed(argv, env, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.monotonic()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        times.append((time.monotonic() - t0) * 1000)
        if proc.returncode != 0:
            testlib.fail(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stderr}")
    return times, len(proc.stdout.splitlines())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--credrotd", type=pathlib.Path, default=benchlib.default_credrotd())
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profiles", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20, help="runs of each command")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    build = args.credrotd.resolve().parents[1]
    credrotctl = build / "daemon" / "credrotctl"
    bench_store = build / "bench" / "bench_store"
    for binary in (args.credrotd, credrotctl, bench_store):
        if not binary.is_file():
            testlib.fail(f"{binary} is not built")

    benchlib.header(f"bench_cli: credrotctl against a daemon whose state holds {args.rows} "
                    f"rotations of {args.profiles} profiles", args.credrotd)
    work = benchlib.workdir("bench-cli", args.keep)
    conf = bench_idle.write_config(work, args.profiles, 10, prefix="profile-")
    (work / "state").mkdir(mode=0o700)
    db_path = work / "state" / "state.db"
    t0 = time.monotonic()
    subprocess.run([str(bench_store), "--rows", str(args.rows), "--profiles",
                    str(args.profiles), "--repeat", "1", "--db", str(db_path), "--keep"],
                   check=True, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(db_path)
    db.execute("UPDATE profiles SET next_due = ?", (int(time.time() * 1000) + 30 * 86_400_000,))
    db.commit()
    db.close()
    print(f"state database: {db_path.stat().st_size / 2**20:.1f} MiB, made in "
          f"{time.monotonic() - t0:.1f} s", flush=True)

    bus = testlib.PrivateBus(work)
    notify = bench_idle.Notify(work)
    env = testlib.clean_env(NOTIFY_SOCKET=notify.path, WATCHDOG_USEC=bench_idle.WATCHDOG_USEC,
                            CREDROTD_LOG="stderr", **bus.env())
    try:
        proc, ready_ms = bench_idle.start(args, conf, env, notify)
        print(f"start-up to READY=1 on this database: {ready_ms:.0f} ms", flush=True)
        ctl_env = testlib.clean_env(**bus.env())
        one = f"profile-{args.profiles // 2}"
        for label, argv in (
                ("credrotctl status (all profiles)", [str(credrotctl), "status"]),
                (f"credrotctl status {one}", [str(credrotctl), "status", one]),
                (f"credrotctl history {one}", [str(credrotctl), "history", one]),
                (f"credrotctl --json history {one}", [str(credrotctl), "--json", "history", one]),
                ("credrotctl --version (process start-up alone)", [str(credrotctl), "--version"])):
            times, lines = timed(argv, ctl_env, args.repeat)
            target = "" if "version" in label else "; target <= 10 ms: " + (
                "met" if statistics.median(times) <= 10 else "MISSED")
            print(f"  {label:<48} {benchlib.summary(times)} ms (median [min-max] of "
                  f"{args.repeat}), {lines} lines{target}", flush=True)
        rc = bench_idle.stop(proc)
        testlib.check(rc == 0, f"credrotd stopped with status {rc}")
    finally:
        bus.stop()
    print(f"# load average at the end: "
          f"{'/'.join(f'{x:.2f}' for x in benchlib.load_average())}")


if __name__ == "__main__":
    main()
