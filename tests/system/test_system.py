#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The system tier's scenarios: credrotd as users get it, the .deb installed with apt-get in a
minimal Debian 12 booted under a real systemd (systemd-nspawn), driven with systemctl, busctl,
journalctl and credrotctl inside, against the host's local cloud (tests/stack) on loopback.

    test_system.py SCENARIO        (ctest: system/SCENARIO; see tests/system/README.md)

Scenarios: service, files, bus, reload-units, journal, user-unit, package, security."""

import datetime
import json
import re
import sys
import tempfile
import time

import syslib
from syslib import Cloud, Container, check, daemon_toml, fail, profile_toml, say, scan

DROPIN_DIR = "/etc/systemd/system/credrotd.service.d"


def s3cmd_text(cloud, access, secret):
    host = cloud.s3_url().removeprefix("http://")
    return ("[default]\n# hand-written\n"
            f"access_key = {access}\nsecret_key = {secret}\n"
            f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\n")


def ini_key(text, section, access_name, secret_name):
    current, values = None, {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line and current == section:
            k, v = line.split("=", 1)
            values[k.strip()] = v.strip()
    syslib.SECRETS.add(values.get(secret_name, ""))
    return values.get(access_name), values.get(secret_name)


def env_key(text):
    env = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    syslib.SECRETS.add(env.get("AWS_SECRET_ACCESS_KEY", ""))
    return env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")


def setup_daemon(c, cloud, profiles="", dropins=None):
    """The package installed, root's clouds.yaml, the main configuration, drop-ins."""
    c.install_deb()
    c.write("/etc/credrotd/clouds.yaml", cloud.clouds_yaml(), mode="0600")
    c.write("/etc/credrotd/credrotd.toml", daemon_toml() + profiles, group="credrotd",
            mode="0640")
    for name, text in (dropins or {}).items():
        c.write(f"{DROPIN_DIR}/{name}.conf", text)
    if dropins:
        c.systemctl("daemon-reload")


def status_text(c):
    return c.show("credrotd.service", "StatusText")


def rotate_wait(c, profile, user=None, expect=0):
    return c.credrotctl("rotate", "--wait", "--wait-timeout", "120", profile, user=user,
                        expect=expect)


def wait_idle(c, profile, timeout=90):
    def idle():
        p = c.profile(profile)
        return p if not p.get("running_phase") else None
    return c.wait_for(idle, timeout, f"profile {profile} to finish rotating")


# --- a. the shipped unit under systemd ---

def scenario_service(workdir):
    cloud = Cloud(workdir, "sys-service")
    with Container("service") as c:
        access, secret = cloud.new_key()
        access2, secret2 = cloud.new_key()
        c.run(["install", "-d", "-m", "0700", "/srv/s3"])
        c.write("/srv/s3/one.s3cfg", s3cmd_text(cloud, access, secret), mode="0600")
        c.write("/srv/s3/two.s3cfg", s3cmd_text(cloud, access2, secret2), mode="0600")
        one = profile_toml("one", cloud, [{"type": "s3cmd", "path": "/srv/s3/one.s3cfg"}])
        setup_daemon(c, cloud, one, dropins={
            "paths": "[Service]\nReadWritePaths=/srv/s3\n",
            # Short enough to test the watchdog and the restart quickly.
            "fast": "[Service]\nWatchdogSec=4s\nRestartSec=1s\n"})

        say("systemctl enable --now credrotd")
        c.systemctl("enable", "--now", "credrotd")
        check(c.show("credrotd.service", "Type") == "notify", "the unit is not Type=notify")
        check(c.show("credrotd.service", "ActiveState") == "active",
              f"credrotd is not active after enable --now:\n{c.unit_log()}")
        text = status_text(c)
        check(text.startswith("1 profile(s)"), f"STATUS= after start: {text!r}")
        out = c.systemctl("status", "--no-pager", "credrotd", expect=None).stdout
        check(f"Status: \"{text}\"" in out, f"systemctl status does not show STATUS=:\n{out}")
        say(f"active (Type=notify), STATUS={text!r}")

        # A profile without history is due at once: the daemon rotates it at start.
        rotated_at = time.time()
        p = wait_idle(c, "one")
        check(p.get("last_outcome") == "succeeded", f"the first rotation of one: {p}")
        new_access, new_secret = ini_key(c.read("/srv/s3/one.s3cfg"), "default", "access_key",
                                         "secret_key")
        check(new_access and new_access != access, "the file does not hold a new key")
        keys = cloud.keys()
        check(access not in keys and new_access in keys, "Keystone: the old key is not replaced")
        check(cloud.s3_accepts(new_access, new_secret), "S3 refuses the new key")
        # STATUS= names the next rotation, a full interval (30 days) after this one: not the
        # moment the rotation ran (the bug where STATUS= was not brought up to date).
        text = status_text(c)
        m = re.search(r"next rotation: (\S+) at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
        check(m, f"STATUS= names no next rotation after the rotation: {text!r}")
        when = datetime.datetime.strptime(m.group(2), "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        syslib.check_later(when > rotated_at + 86400,
              f"STATUS= still names the rotation that just ran as the next one: {text!r}")
        say(f"rotated at start; STATUS={text!r}")
        say("credrotctl rotate --wait one")
        rotate_wait(c, "one")
        check(ini_key(c.read("/srv/s3/one.s3cfg"), "default", "access_key", "secret_key")[0]
              != new_access, "credrotctl rotate --wait: the file still holds the previous key")

        say("systemctl reload picks up a profile added in credrotd.d/")
        pid = c.show("credrotd.service", "MainPID")
        two = profile_toml("two", cloud, [{"type": "s3cmd", "path": "/srv/s3/two.s3cfg"}])
        two = two.replace('grace = "2s"', 'grace = "20s"')
        c.write("/etc/credrotd/credrotd.d/two.toml", two, group="credrotd", mode="0640")
        c.systemctl("reload", "credrotd")
        check(c.show("credrotd.service", "MainPID") == pid, "reload restarted the daemon")
        c.credrotctl("status", "two")
        text = status_text(c)
        check(text.startswith("2 profile(s)"), f"STATUS= after reload: {text!r}")

        say("a restart during the grace period resumes the rotation")
        # Profile two has no history either: the reload made it due at once.
        p = c.wait_for(lambda: (lambda p: p if p.get("running_phase") == "grace" else None)(
            c.profile("two")), 60, "profile two to reach the grace phase")
        rotation = p["running_rotation"]
        c.systemctl("restart", "credrotd")
        c.wait_active()
        p = wait_idle(c, "two")
        check(p.get("last_outcome") == "succeeded", f"the resumed rotation: {p}")
        check(p.get("last_rotation") == rotation,
              f"rotation {p.get('last_rotation')} ran instead of {rotation} resuming")
        keys = cloud.keys()
        check(access2 not in keys, "the old key of profile two was not deleted after the restart")
        check(p.get("current_access") in keys, "profile two's current key is not in Keystone")
        log = c.unit_log()
        check("resum" in log, f"the journal does not say the rotation resumed:\n{log}")

        say("a hung daemon (SIGSTOP) is killed by the watchdog and restarted")
        pid = c.show("credrotd.service", "MainPID")
        restarts = int(c.show("credrotd.service", "NRestarts"))
        c.run(["kill", "-STOP", pid])
        c.wait_for(lambda: int(c.show("credrotd.service", "NRestarts")) > restarts and
                   c.show("credrotd.service", "ActiveState") == "active" and
                   c.show("credrotd.service", "MainPID") not in ("0", pid), 40,
                   "the watchdog to restart credrotd")
        log = c.unit_log()
        check("Watchdog timeout" in log, f"the journal does not name the watchdog:\n{log}")
        c.credrotctl("status")

        say("systemctl stop is clean")
        c.systemctl("stop", "credrotd")
        check(c.show("credrotd.service", "ActiveState") == "inactive", "not inactive after stop")
        check(c.show("credrotd.service", "Result") == "success",
              f"Result={c.show('credrotd.service', 'Result')} after stop:\n{c.unit_log()}")
        check(c.show("credrotd.service", "ExecMainStatus") == "0", "exit status after stop")
        scan(c)


SCENARIOS = {
    "service": scenario_service,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(f"usage: test_system.py {{{','.join(SCENARIOS)}}}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    workdir = tempfile.mkdtemp(prefix=f"credrotd-system-{sys.argv[1]}-")
    try:
        SCENARIOS[sys.argv[1]](workdir)
    finally:
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)
    if syslib.DEFERRED:
        fail(f"scenario {sys.argv[1]}: {len(syslib.DEFERRED)} check(s) failed:\n  " +
             "\n  ".join(syslib.DEFERRED))
    say(f"scenario {sys.argv[1]}: passed in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
