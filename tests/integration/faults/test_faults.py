#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The fault matrix at the daemon level, against the real Keystone + Swift: the faults not
already covered by tests/integration/engine/test_failures.py (Keystone 500, hang and garbage
on create, a 401 mid-rotation, S3 refusing the new key, S3 down, a failing check, a full disk)
or at the client level (tests/unit/keystone, tests/integration/keystone: 429, TLS; the store
tests: locked and corrupted databases). Each scenario runs once and states what must hold.

    test_faults.py keystone|tls|local     one group of scenarios (ctest runs the three in parallel)

Unless a scenario says otherwise, a profile first rotates once normally (its hand-made key
adopted, a managed current key in the state), so that the fault hits a steady-state rotation,
the common case. "Nothing changed" means: every consumer file byte-identical to before,
Keystone holding exactly the keys it held, no rotation left running, no temp file left."""

import os
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))
from test_failures import FAST, Scenario  # noqa: E402
from testlib import (OUTPUTS, SECRETS, KeystoneProxy, PrivateBus, Workdir, check,  # noqa: E402
                     clean_env, db_rows, fail, file_digests, profile_config, run, s3_accepts,
                     scan_for_secrets, stack)

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


class Case(Scenario):
    """test_failures' Scenario, plus: a first normal rotation, digests of the files, the
    Keystone keys before the fault, and clean-up of the work directory."""

    def __init__(self, st, name, extra=FAST, warm=True, files_dir=None):
        super().__init__(st, name, extra=extra, files_dir=files_dir)
        if warm:
            self.rotate(expect=0)
            outcome, _, self.old_access = self.last()
            check(outcome == "succeeded", f"{name}: the first rotation succeeded")
            self.old_secret = self.files.keys()["s3cmd"][1]
        self.before = self.snapshot()

    def paths(self):
        return list(self.files.paths.values())

    def snapshot(self):
        return file_digests(self.paths()), self.keystone_keys()

    def unchanged(self, what):
        digests, keys = self.snapshot()
        check(digests == self.before[0], f"{what}: every consumer file is byte-identical")
        check(keys == self.before[1], f"{what}: Keystone holds the same keys "
                                      f"({sorted(keys)} vs {sorted(self.before[1])})")

    def set_clouds(self, url, cacert=None):
        self.user.write_clouds(url)
        if cacert:
            text = self.user.clouds_file.read_text().replace(
                "    interface: public\n", f"    interface: public\n    cacert: {cacert}\n")
            self.user.clouds_file.write_text(text)

    def timed_rotate(self, expect, env=None, argv_prefix=()):
        t0 = time.monotonic()
        argv = ["--config", str(self.conf), "--once", "--profile", "p"]
        if argv_prefix:
            # run() takes credrotd's own arguments; a wrapper needs the whole command line.
            command = list(argv_prefix) + [str(run_binary())] + argv
            proc = subprocess.run(command, env=env or clean_env(), capture_output=True,
                                  text=True, timeout=120)
            OUTPUTS.append(("$ " + " ".join(command), proc.stdout + proc.stderr))
            if proc.returncode != expect:
                fail(f"exit {proc.returncode}, expected {expect}:\n{proc.stdout}\n{proc.stderr}")
        else:
            proc = run(argv, env=env, expect=expect)
        return proc, time.monotonic() - t0

    def finish(self):
        self.done()
        self.work.cleanup()


def run_binary():
    import testlib
    return testlib.CREDROTD


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Keystone ---

def keystone_down(st):
    s = Case(st, "ksdown")
    s.set_clouds(f"http://127.0.0.1:{closed_port()}/v3")
    proc, took = s.timed_rotate(expect=1)
    outcome, error, _ = s.last()
    check(outcome == "failed" and "connection refused" in error,
          f"Keystone down fails the rotation, saying why: {outcome} {error}")
    check(took < 15, f"it gives up within the Keystone budget, not the rollback budget: {took:.1f} s")
    s.unchanged("Keystone down")
    s.finish()
    print(f"PASS Keystone down (connection refused): failed in {took:.1f} s, nothing changed")


def keystone_429_retry_after(st):
    s = Case(st, "ks429", extra=FAST.replace('keystone_timeout = "4s"', 'keystone_timeout = "15s"'))
    proxy = KeystoneProxy(st, s.work.path, [
        {"method": "POST", "path": "^/v3/credentials$", "status": 429, "retry_after": 1,
         "times": 2}])
    s.set_clouds(proxy.keystone_url)
    _, took = s.timed_rotate(expect=0)
    outcome, _, new_access = s.last()
    served = proxy.count("status")
    proxy.stop()
    check(outcome == "succeeded", f"two 429s on create are waited out: {outcome}")
    check(served == 2, f"the proxy answered 429 twice: {served}")
    check(took >= 2, f"Retry-After: 1 was honoured twice: the rotation took {took:.1f} s")
    check(s.keystone_keys() == {new_access}, "Keystone holds exactly the new key")
    s.finish()
    print(f"PASS Keystone 429 with Retry-After on create: waited, succeeded in {took:.1f} s")


def token_expires_mid_rotation(st):
    # The token says it lives 2 s; the grace period is 3 s: by retire time it has expired.
    s = Case(st, "ksexpiry", extra=FAST.replace('grace = "0s"', 'grace = "3s"'))
    proxy = KeystoneProxy(st, s.work.path, [{"token_lifetime": 2}])
    s.set_clouds(proxy.keystone_url)
    s.timed_rotate(expect=0)
    outcome, _, new_access = s.last()
    tokens, refused = proxy.count("token"), proxy.count("401")
    proxy.stop()
    check(outcome == "succeeded", f"a token expiring during the grace period: {outcome}")
    check(tokens == 2 and refused == 0,
          f"credrotd saw the expiry coming and took a new token before retiring, never "
          f"presenting the expired one: {tokens} tokens, {refused} 401s")
    check(s.keystone_keys() == {new_access}, "the old key was deleted with the new token")
    s.finish()
    print("PASS token expiring mid-rotation: renewed before use, succeeded")


def token_dies_mid_rotation(st):
    # The token claims an hour but Keystone stops accepting it after 2 s (revoked, new Fernet
    # keys): only a 401 says so.
    s = Case(st, "ksdies", extra=FAST.replace('grace = "0s"', 'grace = "3s"'))
    proxy = KeystoneProxy(st, s.work.path, [{"token_lifetime": 2, "claimed_lifetime": 3600}])
    s.set_clouds(proxy.keystone_url)
    s.timed_rotate(expect=0)
    outcome, _, new_access = s.last()
    tokens, refused = proxy.count("token"), proxy.count("401")
    proxy.stop()
    check(outcome == "succeeded", f"a token refused mid-rotation: {outcome}")
    check(tokens == 2 and refused == 1,
          f"one 401, one new token, the call repeated: {tokens} tokens, {refused} 401s")
    check(s.keystone_keys() == {new_access}, "the old key was deleted with the new token")
    s.finish()
    print("PASS token refused mid-rotation (401): authenticated again, succeeded")


def admin_never_deletes_another_users_key(st):
    # An admin identity can read and delete any user's EC2 credential through its own OS-EC2
    # URL. A managed key that turns out to be another user's (here: put into the state by
    # hand) must be neither used nor deleted.
    from testlib import Keystone, admin, Consumers  # noqa: F401
    work = Workdir("adminsafe")
    adm = admin(st)
    _, me = adm._request("GET", "/users?name=" + st["ADMIN_NAME"])
    adm.user_id = me["users"][0]["id"]
    _, projects = adm._request("GET", "/projects?name=" + st["ADMIN_PROJECT_NAME"])
    adm.project_id = projects["projects"][0]["id"]
    bystander = Keystone(st, user="BYSTANDER")
    theirs, _ = bystander.create()
    try:
        access, secret = adm.create()
        files = Consumers(work.path / "files", st)
        files.write(access, secret)
        clouds = work.path / "clouds.yaml"
        clouds.write_text(
            "clouds:\n  test-user:\n    auth:\n"
            f"      auth_url: {st['KEYSTONE_URL']}\n      username: {st['ADMIN_NAME']}\n"
            f"      password: {st['ADMIN_PASSWORD']}\n"
            f"      project_name: {st['ADMIN_PROJECT_NAME']}\n"
            "      user_domain_name: Default\n      project_domain_name: Default\n"
            "    region_name: RegionOne\n")
        os.chmod(clouds, 0o600)

        class AdminUser:
            clouds_file = clouds
            cloud = "test-user"
        state = work.path / "state"
        conf = work.path / "credrotd.toml"
        conf.write_text(profile_config("p", st, files, state, AdminUser, extra=FAST))
        run(["--config", conf, "--once", "--profile", "p"], expect=0)
        db = sqlite3.connect(state / "state.db")
        db.execute("INSERT INTO keys (profile, access, state, origin, created_at) "
                   "VALUES ('p', ?, 'previous', 'adopted', 0)", (theirs,))
        db.commit()
        db.close()
        run(["--config", conf, "--once", "--profile", "p"], expect=0)
        outcome, note = db_rows(state, "SELECT outcome, note FROM rotations "
                                       "ORDER BY id DESC LIMIT 1")[0]
        check(theirs in bystander.keys(), "the bystander's key is still in Keystone")
        check(outcome == "succeeded" and theirs in note and "unsafe" in note,
              f"the rotation says it kept that key, and why: {outcome}: {note}")
        new_access = files.keys()["s3cmd"][0]
        check(all(access != theirs for access, _ in files.keys().values()),
              "the bystander's key was not used: no file names it")
        check(s3_accepts(st, *files.keys()["s3cmd"]), "the admin's new key works")
        adm.delete(new_access)
        scan_for_secrets([state / "state.db", state / "state.db-wal"])
    finally:
        bystander.delete(theirs)
        work.cleanup()
    print("PASS admin identity: another user's key in the state is neither used nor deleted")


# --- S3 clock skew and TLS ---

def s3_clock_skew(st):
    # credrotd's clock 30 minutes fast (libfaketime): Swift's s3api refuses the requests with
    # RequestTimeTooSkewed (it allows 15 minutes). That is our clock's fault, not the key's.
    s = Case(st, "skew")
    env = clean_env(LD_PRELOAD=FAKETIME, FAKETIME="+30m", FAKETIME_DONT_FAKE_MONOTONIC="1",
                    NO_FAKE_STAT="1")
    s.timed_rotate(expect=1, env=env)
    outcome, error, new_access = s.last()
    code = db_rows(s.state, "SELECT error_code FROM rotations ORDER BY id DESC LIMIT 1")[0][0]
    check(code == "clock_skew" and "RequestTimeTooSkewed" in error,
          f"classified as clock skew: {code}: {error}")
    check(outcome == "failed", f"not rolled back as a bad key: {outcome}")
    check(new_access in s.keystone_keys(), "the new key is kept (it may well be good)")
    roles = dict(db_rows(s.state, "SELECT access, state FROM keys"))
    check(roles.get(new_access) not in (None, "retired"), f"and stays managed: {roles}")
    s.files_hold_old_key()
    check(file_digests(s.paths()) == s.before[0], "the files are back byte for byte")
    # With the clock right, the next rotation succeeds and retires both older keys.
    s.rotate(expect=0)
    outcome, _, newest = s.last()
    check(outcome == "succeeded" and s.keystone_keys() == {newest},
          f"the next rotation retires both: {outcome} {s.keystone_keys()}")
    s.finish()
    print("PASS S3 clock skew: classified clock_skew, new key kept, old key restored; the next "
          "rotation with a right clock cleans up")


def tls_keystone_with_stack_ca(st):
    s = Case(st, "tlsgood")
    s.set_clouds(st["KEYSTONE_HTTPS_URL"], cacert=st["CA_FILE"])
    s.rotate(expect=0)
    outcome, _, new_access = s.last()
    check(outcome == "succeeded", f"Keystone over TLS with the stack's CA: {outcome}")
    check(s.keystone_keys() == {new_access}, "exactly the new key")
    s.finish()
    print("PASS TLS Keystone with the CA made at stack start: accepted, rotated")


def tls_refused(st, name, url, cacert, words):
    s = Case(st, name)
    s.set_clouds(url, cacert=cacert)
    _, took = s.timed_rotate(expect=1)
    outcome, error, _ = s.last()
    check(outcome == "failed" and error.startswith("tls") and all(w in error for w in words),
          f"refused with a clear TLS error: {outcome} {error}")
    check(took < 15, f"TLS errors are not retried: {took:.1f} s")
    s.unchanged(name)
    s.finish()
    return error


def tls_wrong_host_name(st):
    error = tls_refused(st, "tlsname", st["KEYSTONE_HTTPS_WRONG_NAME_URL"], st["CA_FILE"],
                        ["127.0.0.1"])
    print(f"PASS TLS wrong host name: refused, nothing changed ({error[:150]})")


def tls_unknown_ca(st):
    error = tls_refused(st, "tlsca", st["KEYSTONE_HTTPS_URL"], None, ["cacert"])
    print(f"PASS TLS certificate from an unknown CA: refused, nothing changed ({error[:150]})")


# --- local faults: file system and state database ---

class Mount:
    """A tmpfs of its own under `path` (tests run as root), optionally remounted read-only."""

    def __init__(self, path):
        self.path = path
        path.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(path)],
                       check=True)

    def read_only(self):
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def unmount(self):
        subprocess.run(["umount", str(self.path)], check=True)


def consumer_fault(st, name, prepare, run_prefix, words):
    """One consumer (s3fs, the fourth written) lives in `locked/` (a tmpfs of its own, thrown
    away afterwards), which prepare() makes unwritable after the first rotation: the three
    written before it must be restored."""
    s = Case(st, name)
    locked = s.work.path / "files" / "locked"
    mount = Mount(locked)
    try:
        moved = locked / "passwd-s3fs"
        moved.write_bytes(s.files.paths["s3fs"].read_bytes())
        os.chmod(moved, 0o600)
        s.files.paths["s3fs"].unlink()
        s.files.paths["s3fs"] = moved
        s.conf.write_text(s.conf.read_text().replace(
            f'path = "{s.work.path / "files" / "passwd-s3fs"}"', f'path = "{moved}"'))
        s.before = s.snapshot()
        prepare(mount, locked)
        _, _ = s.timed_rotate(expect=1, argv_prefix=run_prefix)
        outcome, error, _ = s.last()
        check(outcome == "rolled_back" and all(w in error for w in words),
              f"{name}: rolled back, saying why: {outcome} {error}")
        writes = db_rows(s.state, "SELECT kind, count(*) FROM consumer_writes WHERE "
                                  "rotation_id = (SELECT max(id) FROM rotations) GROUP BY kind")
        check(dict(writes) == {"write": 3, "restore": 3},
              f"{name}: the three files written before were restored: {writes}")
        s.unchanged(name)
        s.files_hold_old_key()
        s.done()  # while the s3fs file is still there to be read
    finally:
        mount.unmount()
    s.work.cleanup()
    return error


def read_only_directory(st):
    error = consumer_fault(st, "rodir", lambda mount, _: mount.read_only(), (),
                           ["Read-only file system"])
    print(f"PASS consumer on a read-only file system: rolled back, originals byte-identical "
          f"({error[:120]})")


def permission_denied(st):
    # Root ignores permission bits: credrotd runs without CAP_DAC_OVERRIDE (and
    # CAP_DAC_READ_SEARCH), as it would as an unprivileged user, and the directory is 0555.
    error = consumer_fault(
        st, "eacces", lambda _, locked: os.chmod(locked, 0o555),
        ("/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"),
        ["Permission denied"])
    print(f"PASS consumer in a directory credrotd may not write: rolled back, originals "
          f"byte-identical ({error[:120]})")


def daemon_on_bad_state(st, name, spoil, expect_words):
    """Starts the daemon (not --once) on a state database that spoil() made unusable."""
    s = Case(st, name)
    db_path = s.state / "state.db"
    holder = spoil(db_path)
    bus = PrivateBus(s.work.path)
    try:
        before = file_digests([db_path, s.state / "state.db-wal"])
        t0 = time.monotonic()
        proc = subprocess.run([str(run_binary()), "--config", str(s.conf)],
                              env=clean_env(**bus.env()), capture_output=True, text=True,
                              timeout=60)
        took = time.monotonic() - t0
        OUTPUTS.append((f"credrotd on a {name} database", proc.stdout + proc.stderr))
        check(proc.returncode == 74, f"{name}: exit status 74 (EX_IOERR), got "
                                     f"{proc.returncode}: {proc.stderr}")
        check(all(w in proc.stderr for w in expect_words) and str(db_path) in proc.stderr,
              f"{name}: the error names the file and says what to do: {proc.stderr}")
        check(took < 15, f"{name}: it gives up promptly ({took:.1f} s)")
        check(file_digests([db_path, s.state / "state.db-wal"]) == before,
              f"{name}: the database is untouched (no repair attempted)")
    finally:
        bus.stop()
        if holder is not None:
            holder.close()
    s.unchanged(name)
    s.work.cleanup()
    return proc.stderr.strip().splitlines()[-1]


class LockHolder:
    """Another program holding the database, as a sqlite3 shell in "PRAGMA locking_mode=
    EXCLUSIVE" inside a write transaction would. A process of its own: POSIX locks are per
    process, and this one reading the file (to hash it) would release a lock it held."""

    def __init__(self, path):
        code = ("import sqlite3, sys\n"
                f"h = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
                "h.execute('PRAGMA locking_mode=EXCLUSIVE')\n"
                "h.execute('BEGIN EXCLUSIVE')\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n")
        self.proc = subprocess.Popen(["/usr/bin/python3", "-c", code], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        check(self.proc.stdout.readline().strip() == "locked", "the lock holder is ready")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def state_database_locked(st):
    def lock(path):
        return LockHolder(path)
    line = daemon_on_bad_state(st, "locked", lock, ["another process"])
    print(f"PASS daemon on a locked state database: exit 74, untouched ({line[:140]})")


def state_database_corrupted(st):
    def corrupt(path):
        data = bytearray(path.read_bytes())
        # Page 2 onwards: the schema page survives, the b-tree pages do not.
        for i in range(4096 + 16, min(len(data), 3 * 4096), 7):
            data[i] = 0xA5
        path.write_bytes(bytes(data))
        return None
    # The first rotation's commits are checkpointed into state.db when --once closes it.
    line = daemon_on_bad_state(st, "corrupted", corrupt, ["integrity", "Move it aside"])
    print(f"PASS daemon on a corrupted state database: exit 74, untouched ({line[:140]})")


GROUPS = {
    "keystone": (keystone_down, keystone_429_retry_after, token_expires_mid_rotation,
                 token_dies_mid_rotation, admin_never_deletes_another_users_key),
    "tls": (s3_clock_skew, tls_keystone_with_stack_ca, tls_wrong_host_name, tls_unknown_ca),
    "local": (read_only_directory, permission_denied, state_database_locked,
              state_database_corrupted),
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in GROUPS:
        fail(f"usage: test_faults.py {'|'.join(GROUPS)}")
    st = stack()
    for scenario in GROUPS[sys.argv[1]]:
        t0 = time.monotonic()
        scenario(st)
        print(f"  ({time.monotonic() - t0:.1f} s)", flush=True)
    check(SECRETS, "secrets were collected")
    print(f"PASS fault matrix: {sys.argv[1]}")


if __name__ == "__main__":
    main()
