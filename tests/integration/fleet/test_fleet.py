#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Fleet safety: --hosts daemons stand in for as many machines that share one Keystone user and
one S3 endpoint, each with its own state directory, consumer files and D-Bus, rotating every
second until each has done --rounds successful rotations; half of them create keys with
/v3/credentials, half with OS-EC2 (create_method = "os-ec2": Keystone chooses the id, so a
create whose answer is lost cannot be told apart from another host's key). Meanwhile --kills
times a daemon is killed with SIGKILL in the middle of a rotation and started again: either the
test kills a random daemon whose state shows a rotation running, or a restarted daemon kills
itself at a random crash point of its next rotations (CREDROTD_CRASH_AT). The daemons keep
rotating until both counts are reached.

    test_fleet.py [--hosts 20] [--rounds 5] [--kills 10]

Each host reaches Keystone through a port of its own of one counting proxy
(count_proxy.py), so every create and delete is attributed to the host that sent it. When
every host is done, the daemons are stopped and `credrotd --once` finishes whatever a stop
left in flight. What must hold:
- every host's consumer files agree on one key, which S3 accepts (signed by botocore);
- no host adopted another's key: the hosts' key tables are disjoint, and the only adopted key
  of a host is the one its files held at the start;
- no host deleted another's key: every key a host deleted is in its own key table, and every
  key a host created is in its own key table or among its own candidates;
- Keystone holds exactly the keys the state databases account for: every key it holds is a
  host's live key (current, pending or previous) or a recorded candidate (an OS-EC2 create of
  unknown outcome), every host's current key is in it, and no key made during the run is
  missing from both Keystone and the record of deletions (no orphan, nothing unaccounted);
- no rotation is left running; no temp file is left; no secret appears in any log, output or
  state database."""

import argparse
import pathlib
import random
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fleetlib import CountProxy, Host  # noqa: E402
from testlib import (TestUser, Workdir, check, clean_env, run, s3_accepts,  # noqa: E402
                     scan_for_secrets, stack)

# Where a restarted daemon may kill itself: inside each phase of the protocol, in both create
# methods' paths (after an OS-EC2 create, before its id is recorded, is the fleet's hard case).
CRASH_POINTS = ("after:create:create", "before:write:write", "write:written",
                "before:verify:verify", "after:verify:verify", "before:retire:retire",
                "retire:before_delete", "retire:deleted", "finish")


def succeeded(host):
    return host.outcomes().get("succeeded", 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"fleet: {args.hosts} hosts, {args.rounds} rounds, {args.kills} kills, seed {seed}",
          flush=True)

    st = stack()
    work = Workdir("fleet")
    user = TestUser(st, work.path, "fleet")
    proxy = CountProxy(st["KEYSTONE_URL"].rsplit("/v3", 1)[0], work.path, ports=args.hosts)
    hosts = []
    try:
        initial = {}
        for i in range(args.hosts):
            method = "credentials" if i % 2 == 0 else "os-ec2"
            host = Host(st, work.path / f"host{i:02d}", i, user, proxy.urls[i] + "/v3",
                        'interval = "1s"\njitter = "0s"\ngrace = "0s"\nverify_timeout = "30s"\n'
                        f'create_method = "{method}"\n')
            access, secret = user.keystone.create()  # the key made by hand before credrotd
            host.files.write(access, secret)
            initial[host.name] = access
            hosts.append(host)

        t0 = time.monotonic()
        for host in hosts:
            host.start()
        goal = args.hosts * args.rounds
        deadline = t0 + 60 + 3 * goal
        kills = {"external": 0, "crash point": 0}
        done, checked, reported, nudged = 0, 0.0, t0, 0
        while True:
            now = time.monotonic()
            if now - checked > 1:
                # Reading 20 state databases costs CPU the daemons need: once a second.
                done = sum(min(succeeded(h), args.rounds) for h in hosts)
                checked = now
                for host in hosts:
                    # After a failed rotation (candidates of an OS-EC2 create of unknown
                    # outcome) the next one is due only after the failure backoff: ask for it.
                    if host.alive() and succeeded(host) < args.rounds and host.failing() \
                            and not host.running():
                        nudged += host.rotate_now() == 0
                if done >= goal and sum(kills.values()) >= args.kills:
                    break
                if now - reported > 20:
                    print(f"  {done} of {goal} rotations after {now - t0:.0f} s, "
                          f"{sum(kills.values())} kills", flush=True)
                    reported = now
            check(now < deadline,
                  f"only {done} of {goal} rotations after {now - t0:.0f} s: "
                  + ", ".join(f"{h.name} {h.outcomes()}" for h in hosts))
            for host in hosts:
                if not host.alive():
                    rc = host.daemon.wait(10)
                    check(rc == -9, f"{host.name} exited {rc}: {host.daemon.text()[-3000:]}")
                    kills["crash point"] += 1
                    host.start()
            total = sum(kills.values())
            # Spread the kills over the run: at most as many as the progress allows.
            if total < args.kills and total <= args.kills * done / goal:
                host = rng.choice(hosts)
                if host.alive() and host.running():
                    if rng.random() < 0.5:
                        host.kill9()
                        kills["external"] += 1
                        host.start()
                    else:
                        # The next kill comes from the daemon itself, at a point of a rotation.
                        host.kill9()
                        kills["external"] += 1
                        point = f"{rng.choice(CRASH_POINTS)}#{rng.randint(1, 2)}"
                        host.start(CREDROTD_CRASH_AT=point)
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        for host in hosts:
            host.stop()
        # A host whose crash point was never reached is still alive; stop() ended it.
        for host in hosts:
            # A stop ends the daemon at once (every phase is persisted): an OS-EC2 create it
            # interrupted has an unknown outcome, which --once resolves by recording the keys
            # that appeared as candidates and failing that rotation, the files untouched.
            proc = run(["--config", host.config, "--once"], env=clean_env())
            check(proc.returncode == 0 or (proc.returncode == 1 and "OS-EC2 create of unknown "
                                           "outcome" in proc.stdout),
                  f"{host.name}: credrotd --once exited {proc.returncode}: {proc.stdout}"
                  f"{proc.stderr[-2000:]}")
        print(f"fleet: {goal} rotations in {elapsed:.0f} s with {kills['external']} external "
              f"kills and {kills['crash point']} kills at crash points", flush=True)
        check(sum(kills.values()) >= args.kills,
              f"only {sum(kills.values())} kills, {args.kills} wanted")

        # --- what the fleet looks like afterwards ---
        in_keystone = set(user.keystone.keys())
        events = proxy.requests()
        owner = {}  # access -> host name, from the key tables
        for host in hosts:
            for access, (state, origin) in host.keys().items():
                check(access not in owner, f"{access} is in the key tables of both "
                                           f"{owner.get(access)} and {host.name}")
                owner[access] = host.name
                if origin == "adopted":
                    check(access == initial[host.name],
                          f"{host.name} adopted {access}, which is not the key its files held "
                          f"at the start ({initial[host.name]})")
        accounted = set()
        resumed = 0
        for host in hosts:
            held = host.held()
            accesses = {a for a, _ in held.values()}
            check(len(accesses) == 1, f"{host.name}: the files disagree: {sorted(accesses)}")
            access, secret = next(iter(held.values()))
            check(s3_accepts(st, access, secret), f"{host.name}: S3 refuses the files' key")
            keys = host.keys()
            check(keys.get(access, ("?",))[0] == "current",
                  f"{host.name}: the files' key {access} is not its current key: {keys}")
            check(access in in_keystone, f"{host.name}: its current key is not in Keystone")
            check(not host.running(), f"{host.name}: a rotation is still running")
            check(host.files.stray_files() == [], f"{host.name}: temp files left")
            live = {a for a, (s, _) in keys.items() if s != "retired"}
            accounted |= live | host.candidates()
            port = proxy.ports[host.index]
            mine = set(keys) | host.candidates()
            for e in events:
                if e["port"] != port or not e.get("access") or e["status"] not in (200, 201, 204):
                    continue
                if e["kind"] == "delete":
                    check(e["access"] in keys, f"{host.name} deleted {e['access']}, a key of "
                                               f"{owner.get(e['access'], 'nobody it knows')}")
                elif e["kind"] == "create":
                    check(e["access"] in mine, f"{host.name} created {e['access']} and neither "
                                               "manages it nor lists it as a candidate")
            resumed += host.logs().count("resuming rotation")
        unaccounted = in_keystone - accounted
        check(not unaccounted, f"Keystone holds keys no state database accounts for: "
                               f"{sorted(unaccounted)}")
        created = {e["access"] for e in events
                   if e["kind"] == "create" and e.get("access") and e["status"] in (200, 201)}
        deleted = {e["access"] for e in events
                   if e["kind"] == "delete" and e.get("access") and e["status"] in (200, 204)}
        lost = created - deleted - in_keystone
        check(not lost, f"keys created during the run are neither in Keystone nor deleted: "
                        f"{sorted(lost)}")
        candidates = set().union(*(h.candidates() for h in hosts))
        outcomes = {}
        for host in hosts:
            for k, n in host.outcomes().items():
                outcomes[k] = outcomes.get(k, 0) + n
        print(f"fleet: {len(created)} keys created, {len(deleted)} deleted, {len(in_keystone)} "
              f"in Keystone ({args.hosts} current, {len(candidates & in_keystone)} candidates "
              f"left for the operator); rotations {outcomes}; {resumed} resumed after a kill",
              flush=True)
        check(resumed >= 1, "no kill landed in a rotation (nothing was resumed)")
        proxy.stop()
        for host in hosts:
            host.close()
        scan_for_secrets([f for h in hosts for f in (h.state / "state.db",
                                                    h.state / "state.db-wal")])
    finally:
        for host in hosts:
            host.close()
        proxy.stop()
    work.cleanup()
    print(f"PASS fleet: {args.hosts} hosts")


if __name__ == "__main__":
    main()
