#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Rotation latency: one full rotation of a profile with three consumers by credrotd --once,
side by side with the same rotation done as a script of the openstack CLI workflow
(cli_workflow.sh: openstack ec2 credentials create, edit the files, s3cmd ls, openstack ec2
credentials delete), on the local Keystone + Swift.

Each repetition runs both, one after the other (alternating which goes first), each on a user
of its own. For credrotd it reports the wall time of the process (exec to exit), the time the
servers spent answering (credrotd --stats: from each request fully written to its response
headers, summed), the difference (credrotd's own overhead), and the CPU time of the process.
The servers' own logs give a second measure of server time for both columns (Keystone's
uwsgi "in N msecs", the Swift proxy's request time), valid when nothing else uses the stack:
the default, a stack started for this benchmark.

    /usr/bin/python3 bench/rotation/bench_rotation.py [--runs 10] [--stack-env FILE]
"""

import argparse
import sqlite3
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402
from benchlib import testlib  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
CONSUMERS = ("s3cmd", "aws-credentials", "rclone")


def credrotd_config(st, files, state, user, grace):
    p = files.paths
    return (f'[daemon]\nstate_dir = "{state}"\nclouds_file = "{user.clouds_file}"\n\n'
            f'[profile.bench]\ncloud = "{user.cloud}"\ns3_endpoint = "{st["S3_URL"]}"\n'
            f'grace = "{grace}"\n\n'
            f'[[profile.bench.consumer]]\ntype = "s3cmd"\npath = "{p["s3cmd"]}"\n\n'
            f'[[profile.bench.consumer]]\ntype = "aws-credentials"\n'
            f'path = "{p["aws-credentials"]}"\n\n'
            f'[[profile.bench.consumer]]\ntype = "rclone"\npath = "{p["rclone"]}"\n'
            f'remote = "swift"\n')


class CredrotdColumn:
    def __init__(self, args, st, work):
        self.args = args
        (work / "credrotd").mkdir()
        self.user = testlib.TestUser(st, work / "credrotd", "bench-credrotd")
        access, secret = self.user.keystone.create()
        self.files = testlib.Consumers(work / "credrotd" / "files", st)
        self.files.write(access, secret)
        self.conf = work / "credrotd" / "credrotd.toml"
        self.conf.write_text(credrotd_config(st, self.files, work / "credrotd" / "state",
                                             self.user, "0s"))
        self.env = testlib.clean_env(CREDROTD_LOG="stderr")

    def run(self, peak_rss=False):
        rc, out, err, wall, cpu, rss = benchlib.run_measured(
            [str(self.args.credrotd), "--config", str(self.conf), "--once", "--profile", "bench",
             "--stats"], self.env, peak_rss=peak_rss)
        if rc != 0 or "succeeded" not in out:
            testlib.fail(f"credrotd --once failed ({rc}):\n{out}\n{err}")
        calls, requests, server_ms, call_ms = benchlib.parse_stats(out)
        return {"wall": wall * 1000, "server": server_ms, "calls": calls, "requests": requests,
                "cpu": cpu * 1000, "rss": rss}

    def check(self, st):
        held = self.files.keys()
        access, secret = held["s3cmd"]
        for fmt in CONSUMERS:
            testlib.check(held[fmt] == (access, secret), f"credrotd: {fmt} holds the new key")
        testlib.check(set(self.user.keystone.keys()) == {access},
                      "credrotd: Keystone holds exactly the key of the files")
        testlib.check(testlib.s3_accepts(st, access, secret), "credrotd: S3 accepts the key")


class DaemonColumn:
    """The daemon itself (not --once) rotating the same kind of profile over and over
    (interval 1s, jitter 0): a rotation without process start-up, configuration loading or a
    new token, as a long-running credrotd does it. Each rotation's duration is read from the
    state (started_at: planned; finished_at: done), its server time from the servers' logs
    (each rotation makes one POST /v3/credentials and two S3 requests, which split the logs
    into rotations). Needs a stack of the benchmark's own, and runs after the other columns."""

    def __init__(self, args, st, work):
        self.args = args
        self.st = st
        self.work = work / "daemon"
        self.work.mkdir()
        self.user = testlib.TestUser(st, self.work, "bench-daemon")
        access, secret = self.user.keystone.create()
        self.files = testlib.Consumers(self.work / "files", st)
        self.files.write(access, secret)
        self.state = self.work / "state"
        self.conf = self.work / "credrotd.toml"
        self.conf.write_text(credrotd_config(st, self.files, self.state, self.user, "0s")
                             .replace('grace = "0s"\n',
                                      'grace = "0s"\ninterval = "1s"\njitter = "0s"\n'))

    def run_all(self, logs, count, warmup):
        bus = testlib.PrivateBus(self.work)
        try:
            logs.mark()
            daemon = testlib.Daemon(self.conf, self.work, testlib.clean_env(
                CREDROTD_LOG="stderr", **bus.env()))
            want = count + warmup

            def finished():
                if not (self.state / "state.db").exists():
                    return False
                try:
                    rows = testlib.db_rows(self.state, "SELECT count(*) FROM rotations WHERE "
                                                       "outcome <> 'running'")
                except sqlite3.OperationalError:
                    return False
                return rows[0][0] >= want

            testlib.wait_for(finished, 10 + 5 * want, f"{want} rotations by the daemon")
            daemon.stop()
        finally:
            bus.stop()
        rows = testlib.db_rows(self.state, "SELECT outcome, started_at, finished_at FROM rotations "
                                           "ORDER BY id")
        testlib.check(all(r[0] == "succeeded" for r in rows),
                      f"daemon rotations: {[r[0] for r in rows]}")
        keystone, s3 = logs.entries(settle=0.2)
        # Split the logs into rotations: each starts with its POST /v3/credentials (a token,
        # when one is made, belongs to the rotation it precedes) and has two S3 requests.
        segments = []
        pending = 0.0
        for method, path, ms in keystone:
            if method == "POST" and path.startswith("/v3/credentials"):
                segments.append(pending + ms)
                pending = 0.0
            elif segments:
                segments[-1] += ms
            else:
                pending += ms
        s3_ms = [ms for status, agent, ms in s3 if agent.startswith("credrotd")]
        testlib.check(len(segments) == len(rows) and len(s3_ms) == 2 * len(rows),
                      f"{len(rows)} rotations, but {len(segments)} creates and {len(s3_ms)} S3 "
                      f"requests in the servers' logs: was something else using the stack?")
        out = []
        for i, (_, started, finished_at) in enumerate(rows):
            if i < warmup:
                continue
            server = segments[i] + s3_ms[2 * i] + s3_ms[2 * i + 1]
            wall = finished_at - started
            out.append({"wall": wall, "server": server, "overhead": wall - server})
        return out


class CliColumn:
    def __init__(self, args, st, work):
        (work / "cli").mkdir()
        self.user = testlib.TestUser(st, work / "cli", "bench-cli")
        access, secret = self.user.keystone.create()
        self.files = testlib.Consumers(work / "cli" / "files", st)
        self.files.write(access, secret)
        self.env = testlib.clean_env(OS_CLIENT_CONFIG_FILE=self.user.clouds_file,
                                     HOME=work / "cli")

    def run(self):
        p = self.files.paths
        rc, out, err, wall, cpu, rss = benchlib.run_measured(
            [str(HERE / "cli_workflow.sh"), self.user.cloud, str(p["s3cmd"]),
             str(p["s3cmd"]), str(p["aws-credentials"]), str(p["rclone"])], self.env)
        if rc != 0:
            testlib.fail(f"cli_workflow.sh failed ({rc}):\n{out}\n{err}")
        steps = {}
        for line in out.splitlines():
            if line.startswith("step "):
                _, name, ms = line.split()
                steps[name] = float(ms)
        return {"wall": wall * 1000, "cpu": cpu * 1000, "steps": steps}

    def check(self, st):
        held = self.files.keys()
        access, secret = held["s3cmd"]
        for fmt in CONSUMERS:
            testlib.check(held[fmt] == (access, secret), f"CLI: {fmt} holds the new key")
        testlib.check(set(self.user.keystone.keys()) == {access},
                      "CLI: Keystone holds exactly the key of the files")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    benchlib.add_common_arguments(parser)
    parser.add_argument("--runs", type=int, default=10, help="repetitions (default 10)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="rotations of each column run first and not counted (default 1)")
    parser.add_argument("--no-cli", action="store_true", help="credrotd only")
    parser.add_argument("--exclusive", action="store_true",
                        help="the --stack-env stack serves nothing else meanwhile: read server "
                             "times from its logs (always done for a stack started here)")
    parser.add_argument("--workdir-base", type=pathlib.Path,
                        help="make the work directory (consumer files, state) there, e.g. "
                             "/dev/shm to see what the disk syncs cost (tmpfs makes fsync free)")
    parser.add_argument("--no-daemon", action="store_true",
                        help="skip the rotations by the running daemon")
    args = parser.parse_args()
    if not args.credrotd.is_file():
        testlib.fail(f"{args.credrotd} is not built")

    benchlib.header("bench_rotation: one full rotation (3 consumers, grace 0), credrotd --once "
                    "vs the openstack CLI workflow", args.credrotd)
    stack = benchlib.Stack(args)
    st = stack.env
    logs = benchlib.ServerLogs(st) if stack.started or args.exclusive else None
    work = benchlib.workdir("bench-rotation", args.keep, args.workdir_base)
    cred = CredrotdColumn(args, st, work)
    cli = None if args.no_cli else CliColumn(args, st, work)

    for _ in range(args.warmup):
        cred.run()  # the first rotation adopts the hand-made key: one list more
        if cli:
            cli.run()

    rows = []
    print(f"{'run':>3} | {'credrotd':>8} {'servers':>8} {'overhead':>8} {'cpu':>6} "
          f"{'calls':>5} {'srv(log)':>8} | {'CLI':>8} {'srv(log)':>8} {'create':>7} "
          f"{'check':>7} {'delete':>7} | {'ratio':>6}   (ms)")
    for i in range(args.runs):
        first, second = (cred, cli) if i % 2 == 0 or cli is None else (cli, cred)
        results = {}
        for column in (first, second):
            if column is None:
                continue
            if logs:
                logs.mark()
            r = column.run()
            if logs:
                ks_ms, ks_n, s3_ms, s3_n = logs.read()
                r["log_server"] = ks_ms + s3_ms
                r["log_requests"] = ks_n + s3_n
            results[column] = r
        c = results[cred]
        c["overhead"] = c["wall"] - c["server"]
        row = {"credrotd": c}
        line = (f"{i + 1:>3} | {c['wall']:8.1f} {c['server']:8.1f} {c['overhead']:8.1f} "
                f"{c['cpu']:6.1f} {c['calls']:>5} {c.get('log_server', float('nan')):8.1f} | ")
        if cli:
            k = results[cli]
            row["cli"] = k
            s = k["steps"]
            line += (f"{k['wall']:8.1f} {k.get('log_server', float('nan')):8.1f} "
                     f"{s.get('create', 0):7.1f} {s.get('check', 0):7.1f} "
                     f"{s.get('delete', 0):7.1f} | {k['wall'] / c['wall']:5.1f}x")
        print(line, flush=True)
        rows.append(row)

    # One more rotation under /usr/bin/time for its peak RSS (not timed: time's exec would
    # add to the wall time).
    peak = cred.run(peak_rss=True)["rss"]
    cred.check(st)
    if cli:
        cli.check(st)

    def col(name, key):
        return [r[name][key] for r in rows if name in r and key in r[name]]

    walls = col("credrotd", "wall")
    servers = col("credrotd", "server")
    overheads = col("credrotd", "overhead")
    shares = [o / w * 100 for o, w in zip(overheads, walls)]
    print()
    print(f"credrotd --once, median [min-max] of {len(rows)} runs:")
    print(f"  total       {benchlib.summary(walls)} ms   (target <= 100 ms)")
    print(f"  in servers  {benchlib.summary(servers)} ms   ({rows[-1]['credrotd']['calls']} HTTP "
          f"calls; servers' own logs: {benchlib.summary(col('credrotd', 'log_server'))} ms)")
    print(f"  overhead    {benchlib.summary(overheads)} ms = {benchlib.summary(shares)} % of "
          f"the total   (target <= 10 %)")
    print(f"  of which CPU {benchlib.summary(col('credrotd', 'cpu'))} ms; peak RSS of a "
          f"rotation {peak / 1024:.1f} MiB")
    if cli:
        cli_walls = col("cli", "wall")
        ratios = [k / c for k, c in zip(cli_walls, walls)]
        print("CLI workflow script, median [min-max]:")
        print(f"  total       {benchlib.summary(cli_walls)} ms")
        print(f"  in servers  {benchlib.summary(col('cli', 'log_server'))} ms (servers' logs, "
              f"{statistics.median(col('cli', 'log_requests')) if logs else '?'} requests)")
        for name in ("create", "edit", "check", "delete"):
            print(f"  {name:<11} {benchlib.summary([r['cli']['steps'].get(name, 0) for r in rows])}"
                  f" ms")
        print(f"credrotd is {statistics.median(cli_walls) / statistics.median(walls):.1f}x faster "
              f"(median over median; per run {benchlib.summary(ratios)}x)   (target >= 20x)")
    if logs and not args.no_daemon:
        daemon = DaemonColumn(args, st, work)
        d = daemon.run_all(logs, args.runs, args.warmup)
        print(f"credrotd daemon (a rotation every second, no process start-up; durations from "
              f"the state, ms resolution; server time from the servers' logs), {len(d)} "
              f"rotations:")
        walls = [r["wall"] for r in d]
        overheads = [r["overhead"] for r in d]
        print(f"  total       {benchlib.summary(walls)} ms   (target <= 100 ms)")
        print(f"  in servers  {benchlib.summary([r['server'] for r in d])} ms")
        print(f"  overhead    {benchlib.summary(overheads)} ms = "
              f"{benchlib.summary([o / w * 100 for o, w in zip(overheads, walls)])} % of the "
              f"total   (target <= 10 %)")
        if cli:
            print(f"  the CLI workflow takes {statistics.median(col('cli', 'wall')) / statistics.median(walls):.1f}x "
                  f"as long (median over median)")
    elif not logs:
        print("(no daemon column: it needs a stack of the benchmark's own, without --stack-env)")
    print(f"# load average at the end: "
          f"{'/'.join(f'{x:.2f}' for x in benchlib.load_average())}")
    testlib.scan_for_secrets([])


if __name__ == "__main__":
    main()
