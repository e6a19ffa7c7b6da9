#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""confirm_retire against Ceph RGW's secret cache: a deleted key RGW still accepts is checked
again once the cache window has passed, and the revocation is recorded as confirmed or as a
finding. Against the real RGW of the test stack (CREDROTD_S3_BACKEND=rgw), three profiles:

- "confirmed": the daemon with the default re-check (310 s): right after the rotation RGW
  still accepts the old key and the revocation is pending; at the re-check RGW refuses it and
  the revocation is recorded refused (confirmed). Takes the whole cache window (~5.5 min).
- "finding": the daemon re-checking after 3 s, inside RGW's 300 s window: the key is still
  accepted, so the revocation is recorded as a finding, with a warning naming the key.
- "orphan": credrotd --once leaves its re-check pending (it exits, and the secret with it);
  the next start records it unchecked and says why.
The old keys' secrets never reach the state database or any output."""

import sqlite3
import subprocess
import time

from testlib import (CREDROTD, OUTPUTS, Consumers, Daemon, PrivateBus, TestUser, Workdir, backend,
                     check, clean_env, db_rows, profile_config, run, s3_accepts, scan_for_secrets,
                     stack, wait_for)

# RGW's s3_token_expiry_length (fixed in Pacific) plus the default margin of credrotd.
RECHECK_DEFAULT_S = 310


def rows_of(state, sql, args):
    """db_rows(), or [] while the daemon is still creating its database."""
    try:
        return db_rows(state, sql, args)
    except sqlite3.OperationalError:
        return []


def revocation(state, access):
    rows = rows_of(state, "SELECT revocation, recheck_at FROM keys WHERE access = ?", (access,))
    return rows[0] if rows else (None, None)


def rotated(state, profile):
    rows = rows_of(state, "SELECT outcome, old_access, new_access, note FROM rotations WHERE "
                          "profile = ? ORDER BY id DESC LIMIT 1", (profile,))
    return rows[0] if rows and rows[0][0] != "running" else None


def setup(st, work, name, recheck=None):
    (work.path / name).mkdir()
    user = TestUser(st, work.path / name, f"revoke-{name}")
    access, secret = user.keystone.create()
    files = Consumers(work.path / name / "files", st)
    files.write(access, secret)
    # In use before the rotation, so RGW has cached its secret (the retire's check uses it too).
    check(s3_accepts(st, access, secret), f"{name}: RGW accepts the hand-made key")
    state = work.path / name / "state"
    conf = work.path / name / "credrotd.toml"
    extra = 'grace = "0s"\ninterval = "1h"\njitter = "0s"\n'
    if recheck is not None:
        extra += f'confirm_retire_recheck = "{recheck}"\n'
    conf.write_text(profile_config(name, st, files, state, user, extra=extra))
    return user, access, secret, state, conf


def main():
    check(backend() == "rgw", "this test is about Ceph RGW's secret cache: run it with "
                              "CREDROTD_S3_BACKEND=rgw")
    st = stack()
    work = Workdir("revocation")
    buses, daemons = [], []

    def daemon(name, conf):
        # A bus each: two daemons cannot both own io.github.credrotd.
        buses.append(PrivateBus(work.path / name))
        daemons.append(Daemon(conf, work.path / name, clean_env(**buses[-1].env())))

    try:
        # --- confirmed: the default re-check, after RGW's cache has let the key go ---
        _, old_c, secret_c, state_c, conf_c = setup(st, work, "confirmed")
        daemon("confirmed", conf_c)
        wait_for(lambda: rotated(state_c, "confirmed"), 90, "the rotation of 'confirmed'")
        deleted_at = time.monotonic()
        outcome, old, new, note = rotated(state_c, "confirmed")
        check((outcome, old) == ("succeeded", old_c), f"confirmed: {outcome} {old}")
        check(f"old key {old_c} deleted but still accepted (RGW caches keys up to 5 minutes); "
              f"re-checked in {RECHECK_DEFAULT_S} s" in note, f"confirmed: the note: {note!r}")
        state, recheck_at = revocation(state_c, old_c)
        check(state == "pending" and recheck_at, f"confirmed: pending with a time: {state}")
        check(s3_accepts(st, old_c, secret_c), "RGW still accepts the deleted key (its cache)")

        # --- finding: re-checked inside the window (another daemon, meanwhile) ---
        _, old_f, secret_f, state_f, conf_f = setup(st, work, "finding", recheck="3s")
        daemon("finding", conf_f)
        wait_for(lambda: revocation(state_f, old_f)[0] == "accepted", 90,
                 "the re-check of 'finding' to record a finding")
        check(s3_accepts(st, old_f, secret_f), "finding: RGW does still accept the deleted key")
        wait_for(lambda: f"old key {old_f} still accepted by S3 on the re-check" in
                 daemons[-1].text(), 10, "the finding's warning")
        status = subprocess.run([str(CREDROTD.parent / "credrotctl"), "status"],
                                env=clean_env(**buses[-1].env()), capture_output=True, text=True,
                                timeout=30)
        OUTPUTS.append(("$ credrotctl status", status.stdout + status.stderr))
        check(status.returncode == 0 and "finding: 1 old key(s) deleted but not seen refused by "
              "S3" in status.stdout, f"credrotctl status names the finding: {status.stdout}"
              f"{status.stderr}")

        # --- orphan: --once exits with its re-check pending; the next start records it ---
        _, old_o, _, state_o, conf_o = setup(st, work, "orphan")
        run(["--config", conf_o, "--once"], expect=0)
        check(revocation(state_o, old_o)[0] == "pending", "orphan: --once leaves it pending")
        again = run(["--config", conf_o, "--once"], expect=0)
        check(revocation(state_o, old_o)[0] == "unchecked", "orphan: the next start gives it up")
        check(f"old key {old_o} was still accepted by S3 when deleted and cannot be re-checked"
              in again.stdout + again.stderr, f"orphan: says why: {again.stdout}{again.stderr}")

        # --- confirmed, at last: RGW's cache expires 300 s after the key's last validation ---
        wait_for(lambda: revocation(state_c, old_c)[0] != "pending",
                 RECHECK_DEFAULT_S + 60, "the default re-check of 'confirmed'")
        state, recheck_at = revocation(state_c, old_c)
        waited = time.monotonic() - deleted_at
        check(state == "refused" and recheck_at is None,
              f"confirmed: RGW refused the key {waited:.0f} s after its deletion: {state}")
        check(not s3_accepts(st, old_c, secret_c), "RGW refuses the deleted key now")
        check(f"old key {old_c} refused by S3 on the re-check: revocation confirmed" in
              daemons[0].text(), "the journal line says the revocation is confirmed")
        print(f"confirmed: re-checked and refused {waited:.0f} s after the deletion")
    finally:
        for d in daemons:
            d.stop()
        for b in buses:
            b.stop()
    for state in (state_c, state_f, state_o):
        scan_for_secrets([state / "state.db", state / "state.db-wal"])
    work.cleanup()
    print("PASS deleted keys RGW still accepts are re-checked after its cache window")


if __name__ == "__main__":
    main()
