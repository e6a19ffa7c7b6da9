#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Failure paths of a rotation against the real cloud, with faults injected by a scripted
proxy where the real servers cannot show them on demand.

Each scenario states what must hold; all share these: every consumer file holds a key S3
accepts, no rotation is left running, and Keystone holds only keys the state accounts for."""

import os
import sqlite3
import subprocess

from testlib import (CREDROTD, OUTPUTS, Consumers, FaultProxy, TestUser, Workdir, check,
                     clean_env, db_rows, profile_config, run, s3_accepts, scan_for_secrets, stack, wait_for)

FAST = 'grace = "0s"\nverify_timeout = "2s"\nkeystone_timeout = "4s"\n'


class Scenario:
    def __init__(self, st, name, keystone_rules=None, s3_rules=None, s3_url=None, extra=FAST,
                 files_dir=None):
        self.st = st
        self.work = Workdir(name)
        self.user = TestUser(self.st, self.work.path, name)
        self.old_access, self.old_secret = self.user.keystone.create()
        self.files = Consumers(files_dir or (self.work.path / "files"), st)
        self.files.write(self.old_access, self.old_secret)
        self.state = self.work.path / "state"
        self.proxies = []
        if keystone_rules is not None:
            ks = FaultProxy(st["KEYSTONE_URL"].rsplit("/v3", 1)[0], self.work.path, keystone_rules)
            self.proxies.append(ks)
            self.user.write_clouds(ks.url + "/v3")
            self.keystone_proxy = ks
        if s3_rules is not None:
            s3 = FaultProxy(st["S3_URL"], self.work.path, s3_rules)
            self.proxies.append(s3)
            s3_url = s3.url
        self.conf = self.work.path / "credrotd.toml"
        self.conf.write_text(profile_config("p", st, self.files, self.state, self.user,
                                            s3_url=s3_url, extra=extra))

    def rotate(self, expect):
        return run(["--config", self.conf, "--once", "--profile", "p"], expect=expect)

    def last(self):
        """(outcome, "error_code: error", new_access) of the latest rotation."""
        outcome, code, error, new_access = db_rows(
            self.state, "SELECT outcome, error_code, error, new_access FROM rotations "
                        "ORDER BY id DESC LIMIT 1")[0]
        return outcome, f"{code}: {error}", new_access

    def files_hold_old_key(self):
        for fmt, held in self.files.keys().items():
            check(held == (self.old_access, self.old_secret), f"{fmt} holds the old key")
        check(s3_accepts(self.st, self.old_access, self.old_secret), "the old key still works")

    def keystone_keys(self):
        return set(self.user.keystone.keys())

    def done(self):
        for p in self.proxies:
            p.stop()
        check(not db_rows(self.state, "SELECT id FROM rotations WHERE outcome = 'running'"),
              "no rotation is left running")
        check(self.files.stray_files() == [], "no temp file is left")
        held = set(self.files.keys().values())
        check(len(held) == 1, f"every consumer file holds the same key: {sorted(a for a, _ in held)}")
        access, secret = next(iter(held))
        check(s3_accepts(self.st, access, secret), "S3 accepts the key the files hold")
        accounted = {access} | {row[0] for row in db_rows(
            self.state, "SELECT access FROM keys WHERE state <> 'retired'")}
        check(self.keystone_keys() <= accounted,
              f"Keystone holds only keys the state accounts for: "
              f"{sorted(self.keystone_keys() - accounted)} are not")
        scan_for_secrets([self.state / "state.db", self.state / "state.db-wal"])


def keystone_500_on_create(st):
    s = Scenario(st, "ks500", keystone_rules=[
        {"method": "POST", "path": "^/v3/credentials$", "action": "500"}])
    proc = s.rotate(expect=1)
    outcome, error, _ = s.last()
    check(outcome == "rolled_back", f"a create that kept failing is undone: {outcome} {error}")
    check("transient" in error or "500" in error, f"the error says why: {error}")
    s.files_hold_old_key()
    check(s.keystone_keys() == {s.old_access}, "nothing was left in Keystone")
    s.done()
    print("PASS Keystone 500 on create: rolled back,", proc.stdout.strip())


def keystone_hang_on_create(st):
    s = Scenario(st, "kshang", keystone_rules=[
        {"method": "POST", "path": "^/v3/credentials$", "action": "hang"}])
    s.rotate(expect=1)
    outcome, error, _ = s.last()
    check(outcome == "rolled_back" and "timeout" in error, f"a hang times out: {outcome} {error}")
    s.files_hold_old_key()
    check(s.keystone_keys() == {s.old_access}, "nothing was left in Keystone")
    s.done()
    print("PASS Keystone hang on create: timed out within keystone_timeout, rolled back")


def keystone_garbage_on_create(st):
    s = Scenario(st, "ksgarbage", keystone_rules=[
        {"method": "POST", "path": "^/v3/credentials$", "action": "garbage"}])
    s.rotate(expect=1)
    outcome, error, _ = s.last()
    check(outcome in ("failed", "rolled_back") and "protocol" in error,
          f"garbage JSON is a protocol error: {outcome} {error}")
    s.files_hold_old_key()
    check(s.keystone_keys() == {s.old_access}, "nothing was left in Keystone")
    s.done()
    print("PASS Keystone garbage JSON on create:", outcome)


def keystone_201_unparsable_on_create(st):
    # The create reaches Keystone, which makes the key, but its 201 answer cannot be parsed:
    # the key may exist, so it is deleted (or stays managed), never left live and unrecorded.
    s = Scenario(st, "ks201garbage", keystone_rules=[
        {"method": "POST", "path": "^/v3/credentials$", "action": "forward_garbage",
         "times": 1}])
    s.rotate(expect=1)
    outcome, error, new_access = s.last()
    check(outcome in ("failed", "rolled_back") and "protocol" in error,
          f"an unparsable 201 is a protocol error: {outcome} {error}")
    s.files_hold_old_key()
    check(s.keystone_keys() == {s.old_access},
          f"the key the lost 201 made was deleted: Keystone holds {sorted(s.keystone_keys())}")
    s.done()
    print("PASS Keystone 201 with an unparsable body: the key it made was deleted,", outcome)


def os_ec2_timeout_while_another_host_creates(st):
    # create_method = os_ec2: Keystone chooses the id. Our POST hangs (it never reaches
    # Keystone) while host B, sharing the OpenStack user, creates its own key. The rollback
    # cannot tell B's key from one our POST might have made: it records it as a candidate and
    # leaves it alone (B's files keep a working key).
    s = Scenario(st, "osec2race", keystone_rules=[
        {"method": "POST", "path": "/credentials/OS-EC2$", "action": "hang"}],
        extra=FAST + 'create_method = "os-ec2"\n')
    proc = subprocess.Popen([str(CREDROTD), "--config", str(s.conf), "--once", "--profile", "p"],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # Once the rotation row exists, the keys before the create are recorded: B's key is new.
    def recorded():
        try:
            return db_rows(s.state, "SELECT id FROM rotations")
        except sqlite3.Error:
            return []  # not created yet
    wait_for(recorded, 30, "the rotation to be recorded")
    b_access, b_secret = s.user.keystone.create()
    out, err = proc.communicate(timeout=120)
    OUTPUTS.append(("credrotd --once (OS-EC2 race)", out + err))
    check(proc.returncode == 1, f"the rotation fails: exit {proc.returncode}: {err[-400:]}")
    outcome, error, new_access = s.last()
    check(b_access in s.keystone_keys(), "host B's key was not deleted")
    check(s3_accepts(st, b_access, b_secret), "host B's key still works")
    check(outcome == "failed" and "timeout" in error, f"the create timed out: {outcome} {error}")
    check(new_access is None, f"no key was adopted: {new_access}")
    candidates = db_rows(s.state, "SELECT candidates FROM rotations ORDER BY id DESC LIMIT 1")[0][0]
    check(candidates.split() == [b_access], f"B's key is recorded as a candidate: {candidates!r}")
    check(b_access not in {r[0] for r in db_rows(s.state, "SELECT access FROM keys")},
          "B's key is not managed")
    check(b_access in err + out, "the candidate is reported")
    s.files_hold_old_key()
    s.user.keystone.delete(b_access)  # host B's own rotation retires it
    s.done()
    print("PASS OS-EC2 create timed out while another host created a key: candidate kept")


def keystone_401_mid_rotation(st):
    # The token is refused once in the middle (when the old key is deleted): the client
    # authenticates again and the rotation completes.
    s = Scenario(st, "ks401", keystone_rules=[
        {"method": "DELETE", "path": "/credentials/OS-EC2/", "action": "401", "times": 1}])
    s.rotate(expect=0)
    outcome, _, new_access = s.last()
    check(outcome == "succeeded", f"a 401 mid-rotation is recovered: {outcome}")
    check(s.keystone_keys() == {new_access}, "the old key was deleted after re-authenticating")
    s.done()
    print("PASS Keystone 401 mid-rotation: re-authenticated, succeeded")


def s3_rejects_new_key(st):
    s = Scenario(st, "s3reject", s3_rules=[])
    s.proxies[0].set_rules([{"s3_refuse_unless": s.old_access, "action": "403"}])
    s.rotate(expect=1)
    outcome, error, _ = s.last()
    check(outcome == "rolled_back" and error.startswith("auth_rejected"),
          f"a refused key is rolled back: {outcome} {error}")
    s.files_hold_old_key()
    check(s.keystone_keys() == {s.old_access}, "the new key was deleted")
    s.done()
    print("PASS new key refused by S3: rolled back")


def s3_down(st):
    # An endpoint that cannot be reached says nothing about the key: the old key goes back
    # into the files, the new one stays in Keystone (managed) until a later rotation.
    s = Scenario(st, "s3down", s3_url="http://127.0.0.1:9")
    s.rotate(expect=1)
    outcome, error, new_access = s.last()
    check(outcome == "failed" and error.startswith("transient"),
          f"an unreachable endpoint fails the rotation: {outcome} {error}")
    s.files_hold_old_key()
    check(s.keystone_keys() == {s.old_access, new_access}, "the unverified key is kept")
    # The endpoint comes back: the next rotation retires both older keys.
    s.conf.write_text(profile_config("p", st, s.files, s.state, s.user, extra=FAST))
    s.rotate(expect=0)
    outcome, _, newest = s.last()
    check(outcome == "succeeded", f"the next rotation succeeds: {outcome}")
    check(s.keystone_keys() == {newest}, "both older keys are gone")
    s.done()
    print("PASS S3 unreachable: old key restored, new key kept, retired by the next rotation")


def check_command_fails(st):
    s = Scenario(st, "checkfail")
    text = s.conf.read_text().replace('type = "s3fs"', 'type = "s3fs"\ncheck = ["/bin/false"]')
    s.conf.write_text(text)
    s.rotate(expect=1)
    outcome, error, _ = s.last()
    check(outcome == "rolled_back" and "/bin/false" in error,
          f"a failed consumer check rolls back: {outcome} {error}")
    s.files_hold_old_key()
    check(s.keystone_keys() == {s.old_access}, "the new key was deleted")
    s.done()
    print("PASS consumer check fails: rolled back")


def run_command_prints_old_key(st):
    # The envfile consumer's check fails, so the rotation rolls back; its run command (a
    # script with `set -x`, say) prints the file and fails during the rollback's reload, when
    # the file holds the old key again. Neither key may reach the output or state.db.
    s = Scenario(st, "runprints")
    envfile = s.files.paths["envfile"]
    text = s.conf.read_text().replace(
        'type = "envfile"',
        'type = "envfile"\ncheck = ["/bin/false"]\n'
        f'run = [["/bin/sh", "-c", "cat {envfile}; exit 3"]]')
    s.conf.write_text(text)
    proc = s.rotate(expect=1)
    outcome, error, _ = s.last()
    note, = db_rows(s.state, "SELECT note FROM rotations ORDER BY id DESC LIMIT 1")[0]
    check(outcome == "rolled_back", f"a failed check rolls back: {outcome} {error}")
    check(s.old_secret not in note, "the old secret is not in the rotation's note")
    check("exited with status 3" in note and "<redacted>" in note,
          f"the run command's failure is noted, its output redacted: {note}")
    check(s.old_secret not in proc.stdout + proc.stderr, "the old secret is not in the output")
    s.files_hold_old_key()
    s.done()  # scans state.db and every output for every secret
    print("PASS a run command printing the old key during rollback: redacted everywhere")


def disk_full(st):
    # One consumer lives on a tiny file system that is full: its write fails, everything
    # already written goes back to the old key.
    work = Workdir("diskfull-mnt")
    mnt = work.path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)],
                   check=True)
    try:
        s = Scenario(st, "diskfull", files_dir=mnt)
        filler = mnt / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 512) > 0:
                pass
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        s.rotate(expect=1)
        outcome, error, _ = s.last()
        check(outcome == "rolled_back" and ("No space" in error or "ENOSPC" in error or
                                            "space" in error),
              f"a full disk rolls back: {outcome} {error}")
        s.files_hold_old_key()
        check(s.keystone_keys() == {s.old_access}, "the new key was deleted")
        filler.unlink()
        s.done()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
        work.cleanup()
    print("PASS disk full: rolled back")


def main():
    st = stack()
    only = os.environ.get("CREDROTD_SCENARIOS", "").split()
    for scenario in (keystone_500_on_create, keystone_hang_on_create, keystone_garbage_on_create,
                     keystone_201_unparsable_on_create, os_ec2_timeout_while_another_host_creates,
                     keystone_401_mid_rotation, s3_rejects_new_key, s3_down,
                     check_command_fails, run_command_prints_old_key, disk_full):
        if not only or scenario.__name__ in only:
            scenario(st)
    print("PASS failure paths")


if __name__ == "__main__":
    main()
