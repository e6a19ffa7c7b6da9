#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`credrotctl discover` on a host tree with the files of several users, then its drop-in, unchanged,
fed to `credrotd --check-config` and `credrotd --once`.

The tree (under --root): alice's ~/.s3cfg, ~/.aws/credentials with two profiles (her key, and in
[partner] a key of another Keystone user), ~/.duck/credentials with a bookmark; bob's rclone remote
of type s3 and ~/.passwd-s3fs; /etc/passwd-s3fs and /etc/restic/s3.env, the EnvironmentFile= of a
unit under /lib/systemd/system; a boto3 script given with --python. Keystone holds, for the
identity, the three keys the files name and one stale key that no file names.

What must hold: the report groups the places by key into three profiles, says the other user's
key is unknown to the identity and the stale key is stale; the drop-in passes --check-config and
--once rotates every key it proposes; afterwards every file holds a new key that the real clients
(s3cmd, aws, rclone, boto3, Java's Properties for duck, systemd's env-file parser) use with S3; the
other user's key and the stale key still exist (nothing a file names was deleted); no secret
appears in any output or in the drop-in."""

import json
import os
import pathlib
import plistlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from testlib import (BINARY_DIR, OUTPUTS, SECRETS, SOURCE_DIR, TestUser, Workdir,  # noqa: E402
                     check, clean_env, file_digests, ini_section, run, s3_accepts,
                     scan_for_secrets, stack)

CREDROTCTL = BINARY_DIR / "daemon" / "credrotctl"
TOOLS = SOURCE_DIR / "tests" / "integration" / "consumers"
ALICE, BOB = 20001, 20002


def credrotctl(args, expect=0, cwd=None):
    cmd = [str(CREDROTCTL)] + [str(a) for a in args]
    proc = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=120,
                          cwd=cwd)
    OUTPUTS.append(("$ " + " ".join(cmd), proc.stdout + proc.stderr))
    check(proc.returncode == expect, f"{' '.join(cmd)} exited {proc.returncode}, expected "
                                     f"{expect}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def client(argv, env_extra=None, expect=0, record=True):
    """Runs a real client; `record` False for the readers that print a secret on purpose."""
    proc = subprocess.run([str(a) for a in argv], env=clean_env(**(env_extra or {})),
                          capture_output=True, text=True, timeout=120)
    if record:
        OUTPUTS.append(("$ " + " ".join(str(a) for a in argv), proc.stdout + proc.stderr))
    check(proc.returncode == expect,
          f"{argv} exited {proc.returncode}, expected {expect}: {proc.stderr[-800:]}")
    return proc


def write(path, text, uid=0, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    os.chmod(path, mode)
    os.chown(path, uid, uid)


def give(directory, uid):
    for p in [directory, *directory.rglob("*")]:
        os.chown(p, uid, uid)


def ini(path, section):
    return ini_section(path.read_text(), section)


def build_host(root, st, keys, other_key):
    """The host tree; returns {name: path} of every file that names a key."""
    (alice_key, alice_secret), (bob_key, bob_secret), (sys_key, sys_secret) = keys
    host, port = st["S3_HOST"], st["S3_PORT"]
    write(root / "etc" / "passwd", "root:x:0:0:root:/root:/bin/bash\n"
          f"alice:x:{ALICE}:{ALICE}:Alice:/home/alice:/bin/bash\n"
          f"bob:x:{BOB}:{BOB}:Bob:/home/bob:/bin/bash\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", mode=0o644)
    a, b = root / "home" / "alice", root / "home" / "bob"
    p = {
        "s3cmd": a / ".s3cfg",
        "aws": a / ".aws" / "credentials",
        "duck": a / ".duck" / "credentials",
        "bookmark": a / ".duck" / "bookmarks" / "s3.duck",
        "rclone": b / ".config" / "rclone" / "rclone.conf",
        "s3fs-bob": b / ".passwd-s3fs",
        "s3fs-etc": root / "etc" / "passwd-s3fs",
        "envfile": root / "etc" / "restic" / "s3.env",
        "python": root / "srv" / "report.py",
    }
    write(p["s3cmd"], f"[default]\naccess_key = {alice_key}\nsecret_key = {alice_secret}\n"
          f"host_base = {host}:{port}\nhost_bucket = {host}:{port}\nuse_https = False\n"
          "signature_v2 = False\n")
    write(p["aws"], f"[default]\naws_access_key_id = {alice_key}\n"
          f"aws_secret_access_key = {alice_secret}\n\n[partner]\n"
          f"aws_access_key_id = {other_key[0]}\naws_secret_access_key = {other_key[1]}\n")
    write(p["duck"], f"#Saved by duck\nhttp\\://{alice_key}@{host}\\:{port}={alice_secret}\n")
    write(p["bookmark"], plistlib.dumps({"Protocol": "s3", "Hostname": host, "Port": port,
                                         "Username": alice_key, "Nickname": "swift"}))
    give(a, ALICE)
    write(p["rclone"], "[local]\ntype = local\n\n[swift]\ntype = s3\nprovider = Other\n"
          f"access_key_id = {bob_key}\nsecret_access_key = {bob_secret}\n"
          f"endpoint = {st['S3_URL']}\nregion = us-east-1\n")
    write(p["s3fs-bob"], f"{bob_key}:{bob_secret}\n")
    give(b, BOB)
    write(p["s3fs-etc"], f"media:{sys_key}:{sys_secret}\n")
    write(p["envfile"], f"RESTIC_REPOSITORY=s3:{st['S3_URL']}/restic\n"
          f"AWS_ACCESS_KEY_ID={sys_key}\nAWS_SECRET_ACCESS_KEY={sys_secret}\n")
    write(root / "lib" / "systemd" / "system" / "restic-backup.service",
          "[Unit]\nDescription=backup\n\n[Service]\nType=oneshot\n"
          "EnvironmentFile=/etc/restic/s3.env\nExecStart=/usr/bin/restic backup /srv\n", mode=0o644)
    write(p["python"], "import sys\nimport boto3\n\n"
          "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n"
          f"                  aws_access_key_id='{sys_key}',\n"
          f"                  aws_secret_access_key='{sys_secret}')\n"
          "s3.list_buckets()\nprint('listed')\n")
    return p


def held(p, st):
    """{file: (access, secret)} as each client reads it."""
    out = {}
    s3cmd = ini(p["s3cmd"], "default")
    out["s3cmd"] = (s3cmd["access_key"], s3cmd["secret_key"])
    aws = ini(p["aws"], "default")
    out["aws"] = (aws["aws_access_key_id"], aws["aws_secret_access_key"])
    rclone = ini(p["rclone"], "swift")
    out["rclone"] = (rclone["access_key_id"], rclone["secret_access_key"])
    out["s3fs-bob"] = tuple(p["s3fs-bob"].read_text().strip().split(":"))
    out["s3fs-etc"] = tuple(p["s3fs-etc"].read_text().strip().split(":")[1:])
    env = {}
    for line in client(["/usr/bin/python3", TOOLS / "sd_envfile.py", p["envfile"]],
                       record=False).stdout.splitlines():
        if line.startswith("KEEP "):
            k, v = line[len("KEEP '"):-1].split("=", 1)
            env[k] = v
    out["envfile"] = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    import ast
    tree = ast.parse(p["python"].read_text())
    kw = {k.arg: k.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
          for k in node.keywords if k.arg and k.arg.startswith("aws_")}
    out["python"] = (kw["aws_access_key_id"], kw["aws_secret_access_key"])
    bookmark = plistlib.loads(p["bookmark"].read_bytes())
    user = bookmark["Username"]
    duck = client(["/usr/bin/java", TOOLS / "DuckCredentials.java", "get", p["duck"], "http",
                   st["S3_PORT"], st["S3_HOST"], user], record=False)
    out["duck"] = (user, duck.stdout.rstrip("\n"))
    for _, secret in out.values():
        SECRETS.add(secret)
    return out


def main():
    st = stack()
    work = Workdir("discover")
    os.chmod(work.path, 0o755)
    user = TestUser(st, work.path, "discover")
    (work.path / "other").mkdir()
    other = TestUser(st, work.path / "other", "discover-other")
    ks = user.keystone

    keys = [ks.create() for _ in range(3)]
    stale_key, _ = ks.create()
    other_key = other.keystone.create()
    root = work.path / "host"
    root.mkdir(mode=0o755)
    p = build_host(root, st, keys, other_key)
    before = held(p, st)

    etc = work.path / "etc"
    (etc / "credrotd.d").mkdir(parents=True)
    conf = etc / "credrotd.toml"
    conf.write_text(f'[daemon]\nstate_dir = "{work.path / "state"}"\n'
                    f'clouds_file = "{user.clouds_file}"\n\n'
                    '[defaults]\ngrace = "0s"\nchecks = ["list-buckets"]\n')
    dropin = etc / "credrotd.d" / "discovered.toml"
    common = ["discover", "--clouds-file", user.clouds_file, "--cloud", user.cloud,
              "--root", root, "--python", p["python"], "--output", dropin]

    # Read-only: discovery changes no file it reads.
    digests = file_digests(p.values())
    # Printed, then written: the same text; --write never replaces the file.
    printed = credrotctl(common).stdout
    check(file_digests(p.values()) == digests, "discover changed no file")
    report = json.loads(credrotctl(["--json"] + common + ["--write"]).stdout)
    text = dropin.read_text()
    check(printed == text, "the printed drop-in is the written one")
    check(report["dropin"]["text"] == text and report["written"], "the JSON holds the drop-in")
    second = credrotctl(common + ["--write"], expect=1)
    check(dropin.read_text() == text, "a second --write left the drop-in alone")
    check("File exists" in second.stderr, f"the refusal says why: {second.stderr}")
    unknown_cloud = credrotctl([a if a != user.cloud else "nope" for a in common], expect=1)
    check("nope" in unknown_cloud.stderr, f"an unknown cloud is named: {unknown_cloud.stderr}")
    relative = [a if a != root else "host" for a in common]
    check(credrotctl(relative, cwd=work.path).stdout == printed,
          "a relative --root is taken from the working directory")
    endpoint = credrotctl(common + ["--s3-endpoint", "http://s3.example.org:8080"]).stdout
    check(endpoint.count('s3_endpoint = "http://s3.example.org:8080"') == 3,
          "--s3-endpoint sets every profile's endpoint")
    print(text)

    # The report: three keys of the identity, one of another user, one stale.
    check(report["identity"]["s3_endpoint"] == st["S3_URL"],
          f"the S3 endpoint comes from the catalog: {report['identity']['s3_endpoint']}")
    by_key = {k["access"]: k for k in report["keys"]}
    (alice_key, _), (bob_key, _), (sys_key, _) = keys
    expected = {
        alice_key: ("alice", {("s3cmd", p["s3cmd"]), ("aws-credentials", p["aws"]),
                              ("cyberduck", p["duck"])}),
        bob_key: ("bob", {("rclone", p["rclone"]), ("s3fs", p["s3fs-bob"])}),
        sys_key: ("root", {("s3fs", p["s3fs-etc"]), ("envfile", p["envfile"]),
                           ("python", p["python"])}),
    }
    check(set(by_key) == set(expected) | {other_key[0]}, f"the keys found: {sorted(by_key)}")
    for access, (profile, places) in expected.items():
        k = by_key[access]
        check(k["owner"] == "identity" and k["profile"] == profile,
              f"{access} is the identity's, proposed as {profile}: {k}")
        check({(pl["type"], pathlib.Path(pl["path"])) for pl in k["places"]} == places,
              f"the places of {profile}'s key: {k['places']}")
    duck = next(pl for pl in by_key[alice_key]["places"] if pl["type"] == "cyberduck")
    check(duck["bookmarks"] == [str(p["bookmark"])], f"the duck bookmark follows: {duck}")
    env = next(pl for pl in by_key[sys_key]["places"] if pl["type"] == "envfile")
    check(env["units"] == ["restic-backup.service"], f"the env file's unit: {env}")
    unknown = by_key[other_key[0]]
    check(unknown["owner"] == "unknown" and unknown["profile"] is None
          and "unknown to this identity" in unknown["not_proposed"],
          f"the other user's key is unknown to the identity: {unknown}")
    check([s["access"] for s in report["stale"]] == [stale_key], f"stale: {report['stale']}")
    check(report["dropin"]["profiles"] == 3, "three profiles proposed")
    check("# reload = [\"restic-backup.service\"]" in text,
          "the unit under --root is named in a comment, not reloaded")

    # The drop-in, unchanged, rotates every key it proposes.
    run(["--config", conf, "--check-config"], expect=0)
    once = run(["--config", conf, "--once"], expect=0)
    print(once.stdout.strip())

    after = held(p, st)
    new = {}
    for name, (access, secret) in after.items():
        old_access = before[name][0]
        check(access != old_access, f"{name} holds a new key")
        check(s3_accepts(st, access, secret), f"S3 accepts the new key of {name}")
        new.setdefault(old_access, set()).add(access)
    for old_access, accesses in new.items():
        check(len(accesses) == 1, f"the files of {old_access} share one new key: {accesses}")
    check(ini(p["aws"], "partner")["aws_access_key_id"] == other_key[0],
          "the other user's key in [partner] is untouched")

    # The real clients, on the rewritten files.
    client(["/usr/bin/s3cmd", "-c", p["s3cmd"], "ls"])
    client(["/usr/bin/aws", "--endpoint-url", st["S3_URL"], "--region", "us-east-1",
            "--profile", "default", "s3", "ls"],
           {"AWS_SHARED_CREDENTIALS_FILE": p["aws"], "AWS_CONFIG_FILE": "/nonexistent"})
    client(["/usr/bin/rclone", "--config", p["rclone"], "--ask-password=false", "lsd", "swift:"],
           {"HOME": str(work.path)})
    check("listed" in client(["/usr/bin/python3", p["python"], st["S3_URL"]]).stdout,
          "the boto3 script works with its new key")
    bookmark = plistlib.loads(p["bookmark"].read_bytes())
    check(bookmark["Username"] == after["duck"][0], "the duck bookmark names the new key")

    # Nothing a file names was deleted; the old keys are gone, the stale key stays.
    own = set(ks.keys())
    check(own == {a for a, _ in after.values()} | {stale_key},
          f"Keystone holds the new keys and the stale one: {sorted(own)}")
    check(other_key[0] in other.keystone.keys(), "the other user's key still exists")

    ks.delete(stale_key)
    other.keystone.delete(other_key[0])
    scan_for_secrets([dropin, work.path / "state" / "state.db"])
    work.cleanup()
    print("PASS discover: 3 profiles proposed, rotated and read back by the real clients")


if __name__ == "__main__":
    main()
