# SPDX-License-Identifier: Apache-2.0
"""The system tier's helpers: a Debian 12 container booted with systemd-nspawn from the cached
base root (tests/system/prepare.sh), commands run inside it with nsenter, the package
installed in it, and credrotd configured against the host's local cloud (tests/stack).

Everything a test captures (command outputs, the journal) joins testlib.OUTPUTS and every
secret it learns joins testlib.SECRETS; testlib hands both to the suite-wide secret scan at
exit (tests/integration/faults/scan_secrets.py), and each scenario scans them itself too.

Run with Debian's /usr/bin/python3."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration" / "engine"))
import testlib  # noqa: E402
from testlib import OUTPUTS, SECRETS, check, fail  # noqa: E402,F401

SYSTEM_DIR = pathlib.Path(os.environ.get("CREDROTD_SYSTEM_DIR", testlib.BINARY_DIR / "system"))
INSIDE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
BOOT_TIMEOUT = 90


# Failures that do not stop the scenario (a wrong STATUS= text should not hide what the rest
# of the scenario finds): reported, and the scenario fails, at its end.
DEFERRED = []


def check_later(condition, message):
    if not condition:
        print("FAIL (the scenario goes on): " + message, file=sys.stderr, flush=True)
        DEFERRED.append(message)


def start_time(pid):
    """Field 22 of /proc/PID/stat (clock ticks since boot), which tells a process from a later
    one with the same PID; "" when it is gone."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def packages():
    env = {}
    path = SYSTEM_DIR / "packages.env"
    check(path.is_file(), f"{path} is missing: the fixture system/prepare did not run")
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def say(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Result:
    def __init__(self, argv, proc):
        self.argv = argv
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def out(self):
        return self.stdout.strip()


class Container:
    """An overlay on the base root, booted. `with Container("name") as c:` boots it and always
    powers it off, unmounts the overlay and deletes its directory."""

    def __init__(self, name):
        pkgs = packages()
        self.base = pathlib.Path(pkgs["BASE"])
        self.current_deb = pathlib.Path(pkgs["CURRENT_DEB"])
        self.old_deb = pathlib.Path(pkgs["OLD_DEB"])
        self.name = name
        self.machine = f"credrotd-{name}-{os.getpid()}"
        self.dir = SYSTEM_DIR / "run" / self.machine
        self.root = self.dir / "root"
        self.nspawn = None
        self.leader = None
        self.log_path = self.dir / "console.log"
        self._gids = {}

    # --- life cycle ---

    def __enter__(self):
        try:
            self.boot()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc):
        self.destroy()
        return False

    def boot(self):
        t0 = time.monotonic()
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        # The container's root is an overlay: the cached base read-only below, this
        # container's changes in DIR/upper (unmounted and deleted by destroy()).
        for d in ("upper", "work", "root"):
            (self.dir / d).mkdir()
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={self.base},upperdir={self.dir / 'upper'},"
                        f"workdir={self.dir / 'work'}", str(self.root)], check=True)
        t1 = time.monotonic()
        self.log = open(self.log_path, "w")
        # systemd is not PID 1 on the host: no registration with machined, no scope unit.
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", str(self.root), "-b", "--console=passive", "--register=no",
             "--keep-unit", f"--machine={self.machine}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.leader = self._find_leader()
        self._record_pids()
        deadline = time.monotonic() + BOOT_TIMEOUT
        state = ""
        while time.monotonic() < deadline:
            r = self.run(["systemctl", "is-system-running"], record=False, expect=None)
            state = r.out
            if state in ("running", "degraded"):
                break
            check(self.nspawn.poll() is None, f"systemd-nspawn exited: {self.console()}")
            time.sleep(0.1)
        else:
            fail(f"the container did not finish booting in {BOOT_TIMEOUT} s (state {state!r})")
        if state == "degraded":
            failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"]).out
            say(f"booted degraded; failed units: {failed}")
        say(f"container {self.machine}: overlay mounted in {t1 - t0:.1f} s, booted in "
            f"{time.monotonic() - t1:.1f} s (PID 1 is host PID {self.leader})")

    def _find_leader(self):
        """The container's PID 1: the child of the systemd-nspawn process that lives in
        another PID namespace."""
        own_ns = os.readlink("/proc/self/ns/pid")
        pid = self.nspawn.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            check(self.nspawn.poll() is None, f"systemd-nspawn exited at once: {self.console()}")
            try:
                children = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                children = []
            for child in children:
                try:
                    if os.readlink(f"/proc/{child}/ns/pid") != own_ns:
                        comm = pathlib.Path(f"/proc/{child}/comm").read_text().strip()
                        if comm == "systemd":
                            return int(child)
                except OSError:
                    pass
            time.sleep(0.05)
        fail("found no container PID 1 under systemd-nspawn")

    def console(self):
        try:
            return self.log_path.read_text()[-3000:]
        except OSError:
            return ""

    def _record_pids(self):
        """DIR/pids: "ROLE PID STARTTIME" of systemd-nspawn and of the container's PID 1, for
        cleanup.sh to stop exactly these if this test process dies before powering off."""
        lines = [f"{role} {pid} {start_time(pid)}\n"
                 for role, pid in (("nspawn", self.nspawn.pid), ("leader", self.leader))]
        (self.dir / "pids").write_text("".join(lines))

    def poweroff(self):
        """systemctl poweroff inside; if the container is not gone within 60 s, SIGTERM to
        systemd-nspawn (an orderly shutdown too), then SIGKILL to both processes we started.
        Never raises: it runs on the way out of failing tests."""
        if self.nspawn is None:
            return
        leader_start = start_time(self.leader) if self.leader else ""
        if self.nspawn.poll() is None:
            if self.leader:
                try:
                    self.run(["systemctl", "poweroff", "--no-block"], record=False, expect=None,
                             timeout=30)
                except Exception as e:  # noqa: BLE001 - the fallbacks below handle it
                    say(f"systemctl poweroff: {e}")
            try:
                self.nspawn.wait(timeout=60)
            except subprocess.TimeoutExpired:
                say("the container did not power off in 60 s: SIGTERM to systemd-nspawn")
                self.nspawn.send_signal(signal.SIGTERM)
                try:
                    self.nspawn.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    say("systemd-nspawn still runs: SIGKILL to it and to the container's PID 1")
                    self.nspawn.kill()
                    self.nspawn.wait()
        # The container's PID 1 dies with systemd-nspawn; if not, it is killed (by PID, after
        # checking it is still the process we started).
        if self.leader and leader_start and start_time(self.leader) == leader_start:
            deadline = time.monotonic() + 10
            while start_time(self.leader) == leader_start and time.monotonic() < deadline:
                time.sleep(0.1)
            if start_time(self.leader) == leader_start:
                os.kill(self.leader, signal.SIGKILL)

    def destroy(self):
        try:
            self.poweroff()
        finally:
            if hasattr(self, "log"):
                self.log.close()
            alive = self.nspawn is not None and self.nspawn.poll() is None
            if alive:
                say(f"systemd-nspawn {self.nspawn.pid} still runs: {self.dir} is left for "
                    "cleanup.sh")
                return
            if os.environ.get("CREDROTD_SYSTEM_KEEP"):
                say(f"CREDROTD_SYSTEM_KEEP: the container's changes stay in {self.dir}/upper "
                    f"(mount it again over {self.base} to look, or delete {self.dir})")
            # Nothing may stay mounted below the container's directory before it is deleted:
            # the overlay, and anything below it (deepest first).
            mounts = [line.split()[4] for line in open("/proc/self/mountinfo")
                      if (line.split()[4] + "/").startswith(str(self.dir) + "/")]
            for m in sorted(mounts, key=len, reverse=True):
                r = subprocess.run(["umount", m], capture_output=True, text=True)
                if r.returncode != 0:
                    say(f"umount {m}: {r.stderr.strip()}")
            still = [line.split()[4] for line in open("/proc/self/mountinfo")
                     if (line.split()[4] + "/").startswith(str(self.dir) + "/")]
            if still:
                say(f"still mounted, {self.dir} is left for cleanup.sh: {still}")
            elif not os.environ.get("CREDROTD_SYSTEM_KEEP"):
                shutil.rmtree(self.dir, ignore_errors=True)

    # --- acting inside ---

    def run(self, argv, user=None, input=None, expect=0, env=None, record=True, timeout=180,
            label=None):
        """Runs argv inside the container (all its namespaces), with a clean environment; as
        `user` (name) with that user's groups when given (setpriv, no PAM session). Fails
        unless the exit status is `expect` (None: any)."""
        inner_env = {"PATH": INSIDE_PATH, "LANG": "C.UTF-8", "SYSTEMD_PAGER": "",
                     "SYSTEMD_COLORS": "0", "TERM": "dumb"}
        if user:
            inner_env["HOME"] = self.home(user) if user != "root" else "/root"
            inner_env["USER"] = user
        else:
            inner_env["HOME"] = "/root"
        inner_env.update(env or {})
        cmd = ["nsenter", "-t", str(self.leader), "-a", "env", "-i"]
        cmd += [f"{k}={v}" for k, v in inner_env.items()]
        if user:
            cmd += ["setpriv", f"--reuid={user}", f"--regid={self.gid_of(user)}", "--init-groups"]
        cmd += [str(a) for a in argv]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        result = Result(argv, proc)
        shown = label or " ".join(str(a) for a in argv)
        if record:
            OUTPUTS.append((f"{self.name}: {'(' + user + ') ' if user else ''}$ {shown}",
                            proc.stdout + proc.stderr))
        if expect is not None and proc.returncode != expect:
            fail(f"{'as ' + user + ': ' if user else ''}{shown} exited {proc.returncode}, expected "
                 f"{expect}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
        return result

    def sh(self, script, **kw):
        return self.run(["/bin/sh", "-ec", script], label=kw.pop("label", script), **kw)



    def gid_of(self, user):
        if user not in self._gids:
            self._gids[user] = self.run(["id", "-g", user], record=False).out
        return self._gids[user]

    def home(self, user):
        return self.run(["getent", "passwd", user], record=False).out.split(":")[5]

    def uid_of(self, user):
        return int(self.run(["id", "-u", user], record=False).out)

    def write(self, path, text, owner="root", group=None, mode="0644"):
        """Writes a file inside (as root, then chown/chmod): its content goes through stdin,
        never argv."""
        group = group or self.gid_of(owner)
        self.run(["install", "-D", "-o", owner, "-g", group, "-m", mode, "/dev/stdin", path],
                 input=text, label=f"install -o {owner} -m {mode} ... {path}")

    def read(self, path, user=None):
        return self.run(["cat", path], user=user, record=False).stdout

    def exists(self, path):
        return self.run(["test", "-e", path], expect=None, record=False).returncode == 0

    def add_user(self, name, groups=(), home_mode="0700"):
        args = ["useradd", "--create-home", "--shell", "/bin/sh", "--user-group"]
        if groups:
            args += ["--groups", ",".join(groups)]
        self.run(args + [name])
        self.run(["chmod", home_mode, f"/home/{name}"])

    # --- the package and the daemon ---

    def copy_in(self, host_path, inside_dir="/root"):
        """Copies a host file into the container (through its root directory, so not into a
        directory the container mounts over, like /tmp); returns the path inside. A file of
        the same name already there is replaced."""
        dest = self.root / inside_dir.lstrip("/") / pathlib.Path(host_path).name
        shutil.copy(host_path, dest)
        return f"{inside_dir}/{pathlib.Path(host_path).name}"

    def install_deb(self, deb=None):
        """apt-get install ./credrotd_*.deb: apt resolves and checks its Depends on this
        minimal system (they are in the base already, so nothing is downloaded)."""
        inside = self.copy_in(deb or self.current_deb)
        return self.run(["apt-get", "install", "-y", "--no-install-recommends", inside],
                        env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=300)

    def systemctl(self, *args, expect=0, user=None):
        return self.run(["systemctl", *args], expect=expect, user=user)

    def show(self, unit, prop):
        return self.run(["systemctl", "show", "-p", prop, "--value", unit], record=False).out

    def wait_for(self, predicate, timeout, what):
        return testlib.wait_for(predicate, timeout, what, every=0.1)

    def wait_active(self, unit="credrotd.service", timeout=60):
        def active():
            state = self.show(unit, "ActiveState")
            if state == "failed":
                fail(f"{unit} failed:\n{self.unit_log(unit)}")
            return state == "active"
        self.wait_for(active, timeout, f"{unit} to be active")

    def unit_log(self, unit="credrotd.service"):
        return self.run(["journalctl", "-b", "--no-pager", "-o", "short-precise", "-u", unit],
                        label=f"journalctl -u {unit}").stdout[-6000:]

    def credrotctl(self, *args, user=None, expect=0, timeout=180):
        return self.run(["credrotctl", *args], user=user, expect=expect, timeout=timeout)

    def status_json(self, *profiles, user=None):
        return json.loads(self.credrotctl("--json", "status", *profiles, user=user).stdout)

    def profile(self, name, user=None):
        return self.status_json(name, user=user)["profiles"][0]

    def journal_export(self):
        """The whole boot's journal in export format (every field), captured for the scan."""
        return self.run(["journalctl", "-b", "-o", "export", "--no-pager"],
                        label="journalctl -b -o export").stdout


# --- the cloud ---

CLOUDS = []


class Cloud:
    """The host's local cloud (tests/stack) as a scenario sees it: a Keystone user of its own
    (testlib.TestUser) so that scenarios running in parallel never share keys, and the
    clouds.yaml that credrotd reads inside the container."""

    def __init__(self, workdir, name):
        self.st = testlib.stack()
        self.user = testlib.TestUser(self.st, workdir, name)
        self.keystone = self.user.keystone
        self.workdir = pathlib.Path(workdir)
        # credrotd reaches Keystone through this proxy, which hands every EC2 secret that
        # crosses the API to SECRETS: also those of keys made and deleted between two looks
        # (a rotation's new key replaced by the next rotation, rolled back keys).
        self.proxy = testlib.KeystoneProxy(self.st, workdir)
        self.user.write_clouds(self.proxy.keystone_url)
        CLOUDS.append(self)

    def collect(self):
        self.proxy.events()

    def close(self):
        self.proxy.stop()

    def clouds_yaml(self):
        return self.user.clouds_file.read_text()

    def s3_url(self):
        return self.st["S3_URL"]

    def new_key(self):
        """An EC2 key made by hand, the way users paste one into their files."""
        return self.keystone.create()

    def keys(self):
        """{access: secret} of the user's keys, re-read from Keystone with the openstack CLI
        (/usr/bin/openstack); every secret joins SECRETS. Its output is never recorded."""
        env = testlib.clean_env(OS_CLIENT_CONFIG_FILE=self.user.clouds_file)
        proc = subprocess.run(["/usr/bin/openstack", "--os-cloud", self.user.cloud, "ec2",
                               "credentials", "list", "-f", "json", "-c", "Access", "-c", "Secret"],
                              env=env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            fail(f"openstack ec2 credentials list exited {proc.returncode} "
                 f"(stderr: {len(proc.stderr)} bytes, not shown)")
        out = {}
        for row in json.loads(proc.stdout):
            SECRETS.add(row["Secret"])
            out[row["Access"]] = row["Secret"]
        return out

    def s3_accepts(self, access, secret):
        return testlib.s3_accepts(self.st, access, secret)


def profile_toml(name, cloud, consumers, extra="", **settings):
    """A [profile.NAME] section with its consumers (a list of dicts rendered as TOML).
    `settings` override the defaults below (grace, interval, verify_timeout, s3_endpoint...)."""
    values = {"cloud": cloud.user.cloud, "s3_endpoint": cloud.s3_url(), "grace": "2s",
              "interval": "30d", "jitter": "0s", "verify_timeout": "60s"}
    values.update(settings)
    out = [f'[profile.{name}]'] + [f"{k} = {toml_value(v)}" for k, v in values.items()]
    if extra:
        out.append(extra)
    out.append("")
    for c in consumers:
        out.append(f"[[profile.{name}.consumer]]")
        for k, v in c.items():
            out.append(f"{k} = {toml_value(v)}")
        out.append("")
    return "\n".join(out) + "\n"


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v)


def daemon_toml(clouds_file="/etc/credrotd/clouds.yaml", extra=""):
    return f'[daemon]\nclouds_file = "{clouds_file}"\nmetrics_file = ""\n{extra}\n'


def scan(container=None):
    """Every captured output (and, with `container`, the whole boot's journal) against every
    secret the scenario learnt."""
    if container is not None:
        OUTPUTS.append((f"{container.name}: journalctl -b -o export (whole boot)",
                        container.journal_export()))
    for cloud in CLOUDS:
        cloud.collect()
        cloud.keys()
    secrets = {s for s in SECRETS if s and len(s) >= 8}
    check(secrets, "no secret was collected: the scan would prove nothing")
    for label, text in OUTPUTS:
        for s in secrets:
            check(s not in text, f"a secret appeared in the output of {label}")
    say(f"secret scan: {len(secrets)} secrets, {len(OUTPUTS)} outputs: clean")
