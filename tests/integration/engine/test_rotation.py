#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A real rotation of a hand-made key held by one consumer file of every format.

What must hold afterwards: every file names the same new key, which S3 accepts when the real
clients (s3cmd, aws, boto3, rclone) read it from the files; the old key is refused (on Ceph RGW:
still accepted from its secret cache, and the rotation's note says so); Keystone holds exactly
the new key for the user; another user's key is untouched; the state records the rotation and
its writes; no secret appears in any output, log line or the SQLite files. Then a rotation whose
new key S3 refuses rolls back to the old key.

Runs against Swift s3api, or Ceph RGW with CREDROTD_S3_BACKEND=rgw (ctest runs both); against
RGW also a rotation whose checks use virtual-hosted addressing."""

import os
import shutil
import subprocess

from testlib import (FORMATS, Consumers, FaultProxy, Keystone, TestUser, Workdir, backend,
                     check, clean_env, db_rows, ini_section, profile_config, run, s3_accepts,
                     scan_for_secrets, stack, OUTPUTS)


def client(argv, env_extra=None, expect=0):
    env = clean_env(**(env_extra or {}))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    OUTPUTS.append(("$ " + " ".join(argv), proc.stdout + proc.stderr))
    check(proc.returncode == expect,
          f"{' '.join(argv)} exited {proc.returncode}, expected {expect}: {proc.stderr[-500:]}")
    return proc


def main():
    st = stack()
    work = Workdir("rotation")
    user = TestUser(st, work.path, "happy")
    ks = user.keystone
    bystander = Keystone(st, user="BYSTANDER")

    # The openstack CLI workflow: a key made by hand, pasted into every client's file.
    old_access, old_secret = ks.create()
    other_access, _ = bystander.create()
    files = Consumers(work.path / "files", st)
    files.write(old_access, old_secret)
    old_s3cfg = work.path / "old.s3cfg"
    shutil.copy(files.paths["s3cmd"], old_s3cfg)
    # In use before the rotation, as keys are (RGW now caches its secret).
    client(["/usr/bin/s3cmd", "-c", str(old_s3cfg), "ls"])

    state = work.path / "state"
    conf = work.path / "credrotd.toml"
    metrics = work.path / "metrics" / "credrotd.prom"
    metrics.parent.mkdir()
    conf.write_text(profile_config("backup", st, files, state, user,
                                   extra='grace = "0s"\nsignature = ["v4", "v2"]\n'
                                         'checks = ["list-buckets"]\n',
                                   daemon=f'metrics_file = "{metrics}"\n'))

    run(["--config", conf, "--check-config"], expect=0)
    dry = run(["--config", conf, "--dry-run"], expect=0)
    check(old_access in dry.stdout, "the dry run names the key the files hold")
    check(ks.keys().keys() == {old_access}, "the dry run changed nothing in Keystone")

    proc = run(["--config", conf, "--once", "--profile", "backup"], expect=0)
    print(proc.stdout.strip())

    held = files.keys()
    new_access, new_secret = held["s3cmd"]
    check(new_access != old_access, "the files hold a new key")
    for fmt in FORMATS:
        check(held[fmt] == (new_access, new_secret), f"the {fmt} file holds the new key")
    check(s3_accepts(st, new_access, new_secret), "S3 accepts the new key (SigV4)")
    check(s3_accepts(st, new_access, new_secret, "s3"), "S3 accepts the new key (SigV2)")
    rgw = backend() == "rgw"
    if rgw:
        # Deleted in Keystone, but RGW checks it against the secret it cached when s3cmd used
        # it, for up to RGW_SECRET_CACHE_SECONDS: the retire note must say so.
        check(s3_accepts(st, old_access, old_secret), "RGW still accepts the old key (cache)")
    else:
        check(not s3_accepts(st, old_access, old_secret), "S3 refuses the old key")
    check(ks.keys().keys() == {new_access}, "Keystone holds exactly the new key for the user")
    check(other_access in bystander.keys(), "the bystander's key is untouched")
    check(files.stray_files() == [], f"no temp file is left: {files.stray_files()}")

    # Format preservation: what surrounded the key is still there.
    check("[unrelated]" in files.paths["aws-credentials"].read_text(), "other AWS profile kept")
    check("# written by hand" in files.paths["s3cmd"].read_text(), "s3cmd comment kept")
    check("RESTIC_REPOSITORY=" in files.paths["envfile"].read_text(), "env file line kept")

    # The real clients, reading the files credrotd wrote, with a clean environment.
    client(["/usr/bin/s3cmd", "-c", str(files.paths["s3cmd"]), "ls"])
    client(["/usr/bin/s3cmd", "-c", str(old_s3cfg), "ls"], expect=0 if rgw else 77)  # 403
    client(["/usr/bin/aws", "--endpoint-url", st["S3_URL"], "--region", "us-east-1", "s3", "ls"],
           {"AWS_SHARED_CREDENTIALS_FILE": files.paths["aws-credentials"],
            "AWS_CONFIG_FILE": "/nonexistent"})
    client(["/usr/bin/python3", "-c",
            "import boto3,sys; s=boto3.session.Session(profile_name='default'); "
            f"s.client('s3', endpoint_url='{st['S3_URL']}', region_name='us-east-1').list_buckets()"],
           {"AWS_SHARED_CREDENTIALS_FILE": files.paths["aws-credentials"],
            "AWS_CONFIG_FILE": "/nonexistent"})
    client(["/usr/bin/rclone", "--config", str(files.paths["rclone"]), "--ask-password=false",
            "lsd", "swift:"], {"HOME": str(work.path)})

    # The state: one succeeded rotation, its writes, the keys' roles. Never a secret.
    rows = db_rows(state, "SELECT outcome, old_access, new_access FROM rotations")
    check(rows == [("succeeded", old_access, new_access)], f"rotations: {rows}")
    note = db_rows(state, "SELECT note FROM rotations")[0][0]
    expected = ("still accepted (RGW caches keys up to 5 minutes)" if rgw
                else "deleted and refused by S3")
    check(expected in note, f"the retire note says {expected!r}: {note!r}")
    writes = db_rows(state, "SELECT count(*) FROM consumer_writes WHERE kind = 'write'")
    check(writes == [(len(FORMATS),)], f"one recorded write per file: {writes}")
    roles = dict(db_rows(state, "SELECT access, state FROM keys"))
    check(roles == {old_access: "retired", new_access: "current"}, f"key roles: {roles}")

    # The Prometheus textfile, parsed by the Prometheus client library's own parser.
    from prometheus_client.parser import text_string_to_metric_families
    samples = {}
    for family in text_string_to_metric_families(metrics.read_text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    check(samples[("credrotd_rotations_total", (("profile", "backup"), ("result", "succeeded")))]
          == 1, f"one successful rotation counted: {samples}")
    check(samples[("credrotd_rotation_running", (("profile", "backup"),))] == 0, "none running")
    check(samples[("credrotd_candidate_keys", (("profile", "backup"),))] == 0,
          "no candidate keys (OS-EC2 creates of unknown outcome)")
    check(0 <= samples[("credrotd_key_age_seconds", (("profile", "backup"),))] < 60,
          "the key is seconds old")
    check(("credrotd_last_success_timestamp_seconds", (("profile", "backup"),)) in samples,
          "last success exported")
    check(oct(metrics.stat().st_mode & 0o777) == "0o644", "the textfile is world-readable")

    # A second run has nothing due; the key in the files stays.
    again = run(["--config", conf, "--once"], expect=0)
    check("nothing due" in again.stdout, "nothing is due right after a rotation")

    bystander.delete(other_access)
    scan_for_secrets([state / "state.db", state / "state.db-wal", conf])
    work.cleanup()
    print(f"PASS rotation of every consumer format ({backend()})")


def rollback_on_rejected_key(st):
    """S3 (through a proxy that refuses every key but the old one) rejects the new key: the
    files get the old key back, which the real endpoint still accepts, and the new key goes."""
    work = Workdir("rotation-rollback")
    user = TestUser(st, work.path, "rollback")
    old_access, old_secret = user.keystone.create()
    files = Consumers(work.path / "files", st)
    files.write(old_access, old_secret)
    proxy = FaultProxy(st["S3_URL"], work.path, [{"s3_refuse_unless": old_access, "action": "403"}])
    state = work.path / "state"
    conf = work.path / "credrotd.toml"
    conf.write_text(profile_config("p", st, files, state, user, s3_url=proxy.url,
                                   extra='grace = "0s"\nverify_timeout = "2s"\n'))
    run(["--config", conf, "--once", "--profile", "p"], expect=1)
    proxy.stop()
    outcome, code = db_rows(state, "SELECT outcome, error_code FROM rotations")[0]
    check((outcome, code) == ("rolled_back", "auth_rejected"), f"rolled back: {outcome} {code}")
    for fmt, held in files.keys().items():
        check(held == (old_access, old_secret), f"the {fmt} file holds the old key again")
    check(s3_accepts(st, old_access, old_secret), "the endpoint accepts the restored key")
    check(set(user.keystone.keys()) == {old_access}, "the refused new key was deleted")
    scan_for_secrets([state / "state.db", state / "state.db-wal", conf])
    work.cleanup()
    print(f"PASS a new key S3 refuses is rolled back ({backend()})")


def virtual_hosted(st):
    """Virtual-hosted addressing against RGW (rgw_dns_name = localhost; nss-myhostname resolves
    BUCKET.localhost to loopback): credrotd's checks address the bucket as a host name (HEAD
    bucket and the put/get/delete probe, SigV4 and SigV2), and s3cmd reads the rotated file
    with host_bucket = %(bucket)s.localhost:PORT."""
    import boto3
    import botocore.config
    work = Workdir("rotation-virtual")
    user = TestUser(st, work.path, "virtual")
    old_access, old_secret = user.keystone.create()
    port = st["S3_PORT"]
    endpoint = f"http://localhost:{port}"
    bucket = f"credrotd-virtual-{os.getpid()}"

    def s3(access, secret):
        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name=st["S3_REGION"], aws_access_key_id=access,
            aws_secret_access_key=secret,
            config=botocore.config.Config(s3={"addressing_style": "virtual"},
                                          retries={"max_attempts": 1}))

    s3(old_access, old_secret).create_bucket(Bucket=bucket)
    s3cfg = work.path / "s3cfg"
    s3cfg.write_text(f"[default]\naccess_key = {old_access}\nsecret_key = {old_secret}\n"
                     f"host_base = localhost:{port}\nhost_bucket = %(bucket)s.localhost:{port}\n"
                     "use_https = False\nsignature_v2 = False\n")
    os.chmod(s3cfg, 0o600)
    state = work.path / "state"
    conf = work.path / "credrotd.toml"
    conf.write_text(
        f'[daemon]\nstate_dir = "{state}"\nclouds_file = "{user.clouds_file}"\n\n'
        f'[profile.v]\ncloud = "{user.cloud}"\ns3_endpoint = "{endpoint}"\n'
        f'addressing = "virtual"\nbucket = "{bucket}"\nchecks = ["head-bucket", "probe"]\n'
        'signature = ["v4", "v2"]\ngrace = "0s"\n\n'
        f'[[profile.v.consumer]]\ntype = "s3cmd"\npath = "{s3cfg}"\n')
    run(["--config", conf, "--once"], expect=0)
    values = ini_section(s3cfg.read_text(), "default")
    new_access, new_secret = values["access_key"], values["secret_key"]
    check(new_access != old_access, "the s3cmd file holds a new key")
    probes = db_rows(state, "SELECT outcome FROM rotations")
    check(probes == [("succeeded",)], f"the rotation succeeded: {probes}")
    client(["/usr/bin/s3cmd", "-c", str(s3cfg), "ls", f"s3://{bucket}"])
    client(["/usr/bin/s3cmd", "-c", str(s3cfg), "--signature-v2", "ls", f"s3://{bucket}"])
    s3(new_access, new_secret).delete_bucket(Bucket=bucket)
    check(set(user.keystone.keys()) == {new_access}, "Keystone holds exactly the new key")
    scan_for_secrets([state / "state.db", state / "state.db-wal", conf])
    work.cleanup()
    print("PASS virtual-hosted addressing: checks and s3cmd on BUCKET.localhost (rgw)")


if __name__ == "__main__":
    main()
    rollback_on_rejected_key(stack())
    if backend() == "rgw":
        virtual_hosted(stack())
