# SPDX-License-Identifier: Apache-2.0
"""Helpers for the daemon's integration tests: the local cloud, consumer files, running
credrotd, checking keys with real S3 requests, and scanning every output for secrets.

Run with Debian's /usr/bin/python3 (boto3 and the OpenStack modules live there)."""

import atexit
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SOURCE_DIR = pathlib.Path(os.environ.get("CREDROTD_SOURCE_DIR", pathlib.Path(__file__).parents[3]))
BINARY_DIR = pathlib.Path(os.environ.get("CREDROTD_BINARY_DIR", SOURCE_DIR / "build" / "main"))
CREDROTD = BINARY_DIR / "daemon" / "credrotd"

# Every secret a test learns, and every output it captures: checked together at the end.
SECRETS = set()
OUTPUTS = []


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def stack():
    path = os.environ.get("CREDROTD_STACK_ENV")
    if not path:
        fail("CREDROTD_STACK_ENV is not set: run through ctest (it starts the local cloud)")
    env = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.removeprefix("export ")] = value
    if backend() == "rgw":
        # The S3-facing tests run once per backend (ctest sets CREDROTD_S3_BACKEND): S3_* then
        # name Ceph RGW (stack.sh --rgw), so the same test drives either endpoint.
        check(env.get("RGW") == "1", f"CREDROTD_S3_BACKEND=rgw but {path} has no RGW "
                                     "(stack.sh start without --rgw)")
        for key in ("URL", "HOST", "PORT", "REGION"):
            env["S3_" + key] = env["RGW_" + key]
    return env


def backend():
    """The S3 endpoint the tests talk to: "swift" (Swift s3api, the default) or "rgw"."""
    name = os.environ.get("CREDROTD_S3_BACKEND", "swift")
    check(name in ("swift", "rgw"), f"CREDROTD_S3_BACKEND={name!r}: swift or rgw")
    return name


def clean_env(**extra):
    """The environment credrotd and the clients run with: nothing inherited that could
    point them elsewhere (CA bundles, proxies, AWS_* variables, the metadata service)."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8",
           "AWS_EC2_METADATA_DISABLED": "true", "CREDROTD_LOG": "stderr"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


# --- Keystone, through its REST API, as the rotator ---

class Keystone:
    def __init__(self, st, user="ROTATOR", url=None, name=None, password=None, user_id=None,
                 project=None):
        self.url = (url or st["KEYSTONE_URL"]).rstrip("/")
        self.user = name or st[user + "_NAME"]
        self.password = password or st[user + "_PASSWORD"]
        self.user_id = user_id or st.get(user + "_ID", "")
        self.project_id = st["PROJECT_ID"]
        self.domain = st["DOMAIN_NAME"]
        self.project = project or st["PROJECT_NAME"]
        self._token = None

    def _request(self, method, path, body=None, token=True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-Auth-Token", self.token())
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp, (json.loads(raw) if raw else None)

    def token(self):
        if self._token is None:
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": self.user, "domain": {"name": self.domain}, "password": self.password}}},
                "scope": {"project": {"name": self.project, "domain": {"name": self.domain}}}}}
            resp, _ = self._request("POST", "/auth/tokens", body, token=False)
            self._token = resp.headers["X-Subject-Token"]
        return self._token

    def keys(self):
        """{access: (secret, project_id)} of the user's EC2 credentials."""
        _, doc = self._request("GET", f"/users/{self.user_id}/credentials/OS-EC2")
        out = {}
        for c in doc["credentials"]:
            SECRETS.add(c["secret"])
            out[c["access"]] = (c["secret"], c["tenant_id"])
        return out

    def create(self):
        _, doc = self._request("POST", f"/users/{self.user_id}/credentials/OS-EC2",
                               {"tenant_id": self.project_id})
        cred = doc["credential"]
        SECRETS.add(cred["secret"])
        return cred["access"], cred["secret"]

    def delete(self, access):
        try:
            self._request("DELETE", f"/users/{self.user_id}/credentials/OS-EC2/{access}")
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise


def admin(st):
    return Keystone(st, user="ADMIN", user_id="-", project=st["ADMIN_PROJECT_NAME"])


class TestUser:
    """A user of its own (member of the test project) for one test, so that tests running
    in parallel on the shared cloud never see each other's keys; and a clouds.yaml for it."""

    def __init__(self, st, workdir, name):
        import secrets as pysecrets
        self.name = f"{name}-{os.getpid()}-{pysecrets.token_hex(3)}"
        self.password = pysecrets.token_hex(16)
        SECRETS.add(self.password)
        adm = admin(st)
        _, doc = adm._request("POST", "/users", {"user": {
            "name": self.name, "password": self.password, "domain_id": st["DOMAIN_ID"]}})
        self.user_id = doc["user"]["id"]
        _, roles = adm._request("GET", "/roles?name=member")
        role = roles["roles"][0]["id"]
        adm._request("PUT", f"/projects/{st['PROJECT_ID']}/users/{self.user_id}/roles/{role}")
        self.keystone = Keystone(st, name=self.name, password=self.password, user_id=self.user_id)
        self.cloud = "test-user"
        self.clouds_file = pathlib.Path(workdir) / "clouds.yaml"
        self.write_clouds(st["KEYSTONE_URL"])

    def write_clouds(self, auth_url):
        self.clouds_file.write_text(
            "clouds:\n  test-user:\n    auth:\n"
            f"      auth_url: {auth_url}\n      username: {self.name}\n"
            f"      password: {self.password}\n      project_name: credrotd\n"
            "      user_domain_name: Default\n      project_domain_name: Default\n"
            "    region_name: RegionOne\n    interface: public\n")
        os.chmod(self.clouds_file, 0o600)


# --- S3, through boto3 (botocore signs independently of credrotd) ---

def s3_accepts(st, access, secret, signature="s3v4"):
    import boto3
    import botocore.config
    import botocore.exceptions
    client = boto3.session.Session().client(
        "s3", endpoint_url=st["S3_URL"], region_name=st["S3_REGION"],
        aws_access_key_id=access, aws_secret_access_key=secret,
        config=botocore.config.Config(signature_version=signature,
                                      s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))
    try:
        client.list_buckets()
        return True
    except botocore.exceptions.ClientError as e:
        if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
            return False
        raise


# --- consumer files, one of each format ---

FORMATS = ("s3cmd", "aws-credentials", "rclone", "s3fs", "envfile", "template")


class Consumers:
    """One file of each format under `root`, with unrelated content around the key so that
    format preservation is exercised too."""

    def __init__(self, root, st):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.st = st
        self.paths = {
            "s3cmd": self.root / "s3cfg",
            "aws-credentials": self.root / "aws" / "credentials",
            "rclone": self.root / "rclone.conf",
            "s3fs": self.root / "passwd-s3fs",
            "envfile": self.root / "s3.env",
            "template": self.root / "mc.json",
        }
        self.template = self.root / "mc.json.tmpl"

    def write(self, access, secret):
        st = self.st
        SECRETS.add(secret)
        p = self.paths
        p["aws-credentials"].parent.mkdir(exist_ok=True)
        p["s3cmd"].write_text(
            "[default]\n# written by hand, as the openstack CLI workflow leaves it\n"
            f"access_key = {access}\nsecret_key = {secret}\n"
            f"host_base = {st['S3_HOST']}:{st['S3_PORT']}\nhost_bucket = {st['S3_HOST']}:{st['S3_PORT']}\n"
            "use_https = False\nsignature_v2 = False\n")
        p["aws-credentials"].write_text(
            f"[default]\naws_access_key_id = {access}\naws_secret_access_key = {secret}\n\n"
            "[unrelated]\naws_access_key_id = AKIDUNRELATED\naws_secret_access_key = unrelated\n")
        p["rclone"].write_text(
            "[local]\ntype = local\n\n"
            f"[swift]\ntype = s3\nprovider = Other\naccess_key_id = {access}\n"
            f"secret_access_key = {secret}\nendpoint = {st['S3_URL']}\nregion = us-east-1\n")
        p["s3fs"].write_text(f"{access}:{secret}\n")
        p["envfile"].write_text(
            f"# restic\nRESTIC_REPOSITORY=s3:{st['S3_URL']}/restic\n"
            f"AWS_ACCESS_KEY_ID={access}\nAWS_SECRET_ACCESS_KEY={secret}\n")
        self.template.write_text(
            '{"aliases": {"cloud": {"url": "' + st["S3_URL"] +
            '", "accessKey": "{{access_key}}", "secretKey": "{{secret_key}}", "api": "S3v4"}}}\n')
        rendered = self.template.read_text().replace("{{access_key}}", access).replace(
            "{{secret_key}}", secret)
        p["template"].write_text(rendered)
        for path in p.values():
            os.chmod(path, 0o600)

    def config(self):
        """The [[profile.X.consumer]] tables for these files."""
        p = self.paths
        return "".join([
            f'[[profile.{{name}}.consumer]]\ntype = "s3cmd"\npath = "{p["s3cmd"]}"\n\n',
            f'[[profile.{{name}}.consumer]]\ntype = "aws-credentials"\npath = "{p["aws-credentials"]}"\n\n',
            f'[[profile.{{name}}.consumer]]\ntype = "rclone"\npath = "{p["rclone"]}"\nremote = "swift"\n\n',
            f'[[profile.{{name}}.consumer]]\ntype = "s3fs"\npath = "{p["s3fs"]}"\n\n',
            f'[[profile.{{name}}.consumer]]\ntype = "envfile"\npath = "{p["envfile"]}"\n\n',
            f'[[profile.{{name}}.consumer]]\ntype = "template"\npath = "{p["template"]}"\n'
            f'template = "{self.template}"\n\n',
        ])

    def keys(self):
        """{format: (access, secret)} as each file holds them (parsed simply; the real
        clients check the files in the happy-path test)."""
        p = self.paths
        out = {}

        def ini(path, section, akey, skey):
            values = ini_section(path.read_text(), section)
            return values.get(akey), values.get(skey)

        out["s3cmd"] = ini(p["s3cmd"], "default", "access_key", "secret_key")
        out["aws-credentials"] = ini(p["aws-credentials"], "default", "aws_access_key_id",
                                     "aws_secret_access_key")
        out["rclone"] = ini(p["rclone"], "swift", "access_key_id", "secret_access_key")
        a, s = p["s3fs"].read_text().strip().split(":", 1)
        out["s3fs"] = (a, s)
        env = dict(l.split("=", 1) for l in p["envfile"].read_text().splitlines()
                   if "=" in l and not l.startswith("#"))
        out["envfile"] = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        alias = json.loads(p["template"].read_text())["aliases"]["cloud"]
        out["template"] = (alias["accessKey"], alias["secretKey"])
        for _, secret in out.values():
            SECRETS.add(secret)
        return out

    def stray_files(self):
        return [str(f) for f in self.root.rglob("*credrotd*")]


def profile_config(name, st, consumers, state_dir, user, s3_url=None, extra="", daemon=""):
    return (f'[daemon]\nstate_dir = "{state_dir}"\nclouds_file = "{user.clouds_file}"\n{daemon}\n'
            f'[profile.{name}]\ncloud = "{user.cloud}"\ns3_endpoint = "{s3_url or st["S3_URL"]}"\n'
            f'{extra}\n' + consumers.config().replace("{name}", name))


# --- running credrotd ---

def run(args, env=None, timeout=120, expect=None):
    cmd = [str(CREDROTD)] + [str(a) for a in args]
    proc = subprocess.run(cmd, env=env or clean_env(), capture_output=True, text=True,
                          timeout=timeout)
    OUTPUTS.append(("$ " + " ".join(cmd), proc.stdout + proc.stderr))
    if expect is not None and proc.returncode != expect:
        fail(f"{' '.join(cmd)} exited {proc.returncode}, expected {expect}\n"
             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def db_rows(state_dir, sql, args=()):
    db = sqlite3.connect(f"file:{state_dir}/state.db?mode=ro", uri=True)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def scan_for_secrets(extra_files=()):
    """Fails when any secret learnt during the test appears in a captured output or file."""
    secrets = {s for s in SECRETS if s and len(s) >= 8}
    check(secrets, "no secret was collected: the scan would prove nothing")
    for label, text in OUTPUTS:
        for s in secrets:
            check(s not in text, f"a secret appeared in the output of {label}")
    for f in extra_files:
        f = pathlib.Path(f)
        if f.is_file():
            data = f.read_bytes()
            for s in secrets:
                check(s.encode() not in data, f"a secret appeared in {f}")
    print(f"secret scan: {len(secrets)} secrets, {len(OUTPUTS)} outputs, "
          f"{len(list(extra_files))} files: clean")


class Workdir:
    """A directory of the test's own under $TMPDIR, removed when the test process exits
    however it ends (it holds clouds.yaml files with passwords and consumer files with keys).
    CREDROTD_KEEP_WORKDIRS=1 keeps them to look at after a failure."""

    def __init__(self, name):
        self.path = pathlib.Path(tempfile.mkdtemp(prefix=f"credrotd-{name}-"))
        if os.environ.get("CREDROTD_KEEP_WORKDIRS") != "1":
            atexit.register(self.cleanup)

    def cleanup(self):
        if not self.path.exists():
            return
        # A scenario that failed between its mount and its umount leaves a tmpfs inside: lazy
        # unmounts (deepest first) so that rmtree can remove the mount points too.
        for mount in sorted(mounts_under(self.path), key=lambda m: len(m.parts), reverse=True):
            subprocess.run(["umount", "--lazy", str(mount)], check=False)
        shutil.rmtree(self.path, onerror=lambda _f, path, exc: print(
            f"warning: cannot remove {path} of the work directory: {exc[1]}", file=sys.stderr))


def mounts_under(path):
    """The mount points at or below `path` (from /proc/self/mountinfo)."""
    root = pathlib.Path(path).resolve()
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # Field 5 is the mount point, with spaces and the like as octal escapes.
            point = pathlib.Path(line.split()[4].encode().decode("unicode_escape"))
            if point == root or root in point.parents:
                found.append(point)
    return found


class FaultProxy:
    """fault_proxy.py in front of `target` (a URL), with rules written to a file."""

    def __init__(self, target, workdir, rules=()):
        self.rules_file = pathlib.Path(workdir) / f"rules-{time.monotonic_ns()}.json"
        self.set_rules(rules)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(pathlib.Path(__file__).parent / "fault_proxy.py"), target,
             str(self.rules_file)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        check(line.startswith("PORT "), f"the fault proxy did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def set_rules(self, rules):
        tmp = self.rules_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(rules)))
        tmp.replace(self.rules_file)

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def crash_points(conf, profile, env_extra=None):
    """The crash points a rotation passes, in order ("name#hit"), from CREDROTD_CRASH_LOG."""
    log = pathlib.Path(tempfile.mkstemp(prefix="credrotd-crashlog-")[1])
    try:
        run(["--config", conf, "--once", "--profile", profile],
            env=clean_env(CREDROTD_CRASH_LOG=log, **(env_extra or {})))
        return [l for l in log.read_text().splitlines() if l]
    finally:
        log.unlink()


class PrivateBus:
    """A dbus-daemon of our own (session-bus rules) on a socket in `workdir`; credrotd finds
    it through DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS."""

    def __init__(self, workdir):
        sock = pathlib.Path(workdir) / "bus.socket"
        self.address = f"unix:path={sock}"
        self.proc = subprocess.Popen(
            ["/usr/bin/dbus-daemon", "--session", "--nofork", "--nopidfile",
             f"--address={self.address}", "--print-address"],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        check(line.startswith("unix:"), f"dbus-daemon did not start: {line!r}")

    def env(self):
        return {"DBUS_SYSTEM_BUS_ADDRESS": self.address, "DBUS_SESSION_BUS_ADDRESS": self.address}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Daemon:
    """credrotd in daemon mode (not --once), its stderr in a file."""

    def __init__(self, conf, workdir, env):
        self.log_path = pathlib.Path(workdir) / f"credrotd-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(CREDROTD), "--config", str(conf)], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        rc = self.proc.wait(timeout=timeout)
        self.log.close()
        OUTPUTS.append(("credrotd daemon", self.log_path.read_text()))
        return rc

    def text(self):
        return self.log_path.read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.wait(10)


def ini_section(text, section):
    """{key: value} of one [section] of an INI-style file, parsed simply (the real clients check
    the files in the happy-path tests)."""
    current, values = None, {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line and current == section:
            k, v = line.split("=", 1)
            values[k.strip()] = v.strip()
    return values


def wait_for(predicate, timeout, what, every=0.05):
    """Bounded polling: `predicate` every `every` seconds until it is true or `timeout` seconds
    pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    fail(f"timed out after {timeout} s waiting for {what}")


# --- Additions for the fault matrix (tests/integration/faults), the soak test
# (tests/integration/soak) and the suite-wide secret check; kept at the end of the file. ---

import hashlib  # noqa: E402

# Where every test process leaves, at exit, the secrets it learnt and the outputs it captured,
# for the suite-wide check (tests/integration/faults/scan_secrets.py, the cleanup of the ctest
# fixture `secret_scan`, which runs after every integration test). Set by ctest.
SECRET_SCAN_DIR = os.environ.get("CREDROTD_SECRET_SCAN_DIR")


def _dump_for_suite_scan():
    if not SECRET_SCAN_DIR:
        return
    directory = pathlib.Path(SECRET_SCAN_DIR)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = f"{pathlib.Path(sys.argv[0]).stem}-{os.getpid()}"
    old_umask = os.umask(0o077)
    try:
        with open(directory / f"{stem}.secrets", "w") as f:
            for secret in sorted(SECRETS):
                f.write(json.dumps(secret) + "\n")
        with open(directory / f"{stem}.outputs", "w") as f:
            for label, text in OUTPUTS:
                f.write(json.dumps({"label": label, "text": text}) + "\n")
    finally:
        os.umask(old_umask)


atexit.register(_dump_for_suite_scan)


def sha256_of(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def file_digests(paths):
    """{path: sha256 of its bytes} (None for a missing file): compare before and after."""
    out = {}
    for p in paths:
        p = pathlib.Path(p)
        out[str(p)] = sha256_of(p) if p.is_file() else None
    return out


class KeystoneProxy:
    """tests/integration/faults/faults_proxy.py in front of the real Keystone: 429 with
    Retry-After, tokens that expire (or die) after a few seconds. Every EC2 secret that crosses
    it, including those of keys credrotd creates and deletes unseen, joins SECRETS."""

    def __init__(self, st, workdir, rules=()):
        base = st["KEYSTONE_URL"].rsplit("/v3", 1)[0]
        stamp = time.monotonic_ns()
        self.rules_file = pathlib.Path(workdir) / f"proxy-rules-{stamp}.json"
        self.record_file = pathlib.Path(workdir) / f"proxy-record-{stamp}.jsonl"
        self.record_file.touch(mode=0o600)
        self.set_rules(rules)
        script = SOURCE_DIR / "tests" / "integration" / "faults" / "faults_proxy.py"
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(script), base, str(self.rules_file), str(self.record_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        check(line.startswith("PORT "), f"the faults proxy did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        self.keystone_url = self.url + "/v3"

    def set_rules(self, rules):
        tmp = self.rules_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(rules)))
        tmp.replace(self.rules_file)

    def events(self):
        """The proxy's record so far (secrets are added to SECRETS, counted in
        self.secrets_seen, and left out)."""
        out = []
        self.secrets_seen = set()
        for line in self.record_file.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "secret":
                SECRETS.add(event["value"])
                self.secrets_seen.add(event["value"])
            else:
                out.append(event)
        return out

    def count(self, kind):
        return sum(1 for e in self.events() if e["event"] == kind)

    def stop(self):
        self.events()
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
