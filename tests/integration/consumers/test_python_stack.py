#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A boto3 script with the key inline (the Example.py of providers' S3 guides), rotated by
`credrotd --once` against the real Keystone and S3 endpoint of the test stack.

Before: the script, run with Debian's /usr/bin/python3 under `env -i` (and
AWS_EC2_METADATA_DISABLED=true), works with the hand-made key. After: the file differs from
the original only in the four string literals, still parses with ast, and the same script
works with the new key (a bucket created, an object written, read back and deleted with
boto3.resource and boto3.client); Keystone holds only the new key; the old key is refused (on
Ceph RGW: still accepted from its secret cache). --check-config and --dry-run point at the
better way (a profile in the AWS credentials file); no secret appears in any output.

Runs against Swift s3api, or Ceph RGW with CREDROTD_S3_BACKEND=rgw (ctest runs both)."""

import ast
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from testlib import (OUTPUTS, TestUser, Workdir, backend, check, db_rows, run,  # noqa: E402
                     s3_accepts, scan_for_secrets, stack)

# The guide's script, with the endpoint and a bucket of this test's own filled in. The key
# appears in a comment and a docstring too: those are not keyword arguments and stay as they are.
SCRIPT = '''#!/usr/bin/env python3
"""Example.py: upload a file to the object store.
Fill in aws_access_key_id='{access}' below."""
import boto3

ENDPOINT = "{endpoint}"  # the S3 endpoint of the cloud

s3 = boto3.resource('s3',
                    endpoint_url=ENDPOINT,
                    aws_access_key_id='{access}',  # from: openstack ec2 credentials create
                    aws_secret_access_key="{secret}",
                    region_name='{region}')
client = boto3.client(
    "s3", endpoint_url=ENDPOINT, region_name='{region}',
    aws_access_key_id = '{access}', aws_secret_access_key = '{secret}')

bucket = s3.Bucket('{bucket}')
bucket.create()
bucket.put_object(Key='hello.txt', Body=b'hello from Example.py')
body = client.get_object(Bucket='{bucket}', Key='hello.txt')['Body'].read()
names = [b['Name'] for b in client.list_buckets()['Buckets']]
bucket.Object('hello.txt').delete()
bucket.delete()
print(body.decode(), '{bucket}' in names)
'''


def run_script(path, expect_ok):
    """The script as a user runs it: Debian's python3, nothing inherited (env -i), no
    credentials file or metadata service that boto3 could fall back on."""
    argv = ["/usr/bin/env", "-i", "AWS_EC2_METADATA_DISABLED=true", "HOME=/nonexistent",
            "LANG=C.UTF-8", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
            "/usr/bin/python3", str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    OUTPUTS.append(("$ " + " ".join(argv), proc.stdout + proc.stderr))
    if expect_ok:
        check(proc.returncode == 0, f"{path} exited {proc.returncode}: {proc.stderr[-1500:]}")
        check(proc.stdout == "hello from Example.py True\n", f"{path} printed {proc.stdout!r}")
    else:
        check(proc.returncode != 0, f"{path} worked with a deleted key")
        check("InvalidAccessKeyId" in proc.stderr or "AccessDenied" in proc.stderr or
              "SignatureDoesNotMatch" in proc.stderr,
              f"{path} failed for another reason than the key: {proc.stderr[-1500:]}")
    return proc


def main():
    st = stack()
    work = Workdir("python")
    user = TestUser(st, work.path, "python")
    ks = user.keystone
    old_access, old_secret = ks.create()

    script = work.path / "Example.py"
    bucket = f"credrotd-example-{os.getpid()}"
    values = {"endpoint": st["S3_URL"], "region": st["S3_REGION"], "bucket": bucket}
    original = SCRIPT.format(access=old_access, secret=old_secret, **values)
    script.write_text(original)
    os.chmod(script, 0o600)
    old_copy = work.path / "Example-old.py"
    old_copy.write_text(original)
    run_script(script, expect_ok=True)

    state = work.path / "state"
    conf = work.path / "credrotd.toml"
    conf.write_text(
        f'[daemon]\nstate_dir = "{state}"\nclouds_file = "{user.clouds_file}"\n\n'
        f'[profile.example]\ncloud = "{user.cloud}"\ns3_endpoint = "{st["S3_URL"]}"\n'
        'grace = "0s"\nsignature = ["v4"]\n\n'
        f'[[profile.example.consumer]]\ntype = "python"\npath = "{script}"\n')
    checked = run(["--config", conf, "--check-config"], expect=0)
    check('type = "aws-credentials"' in checked.stderr,
          f"--check-config does not suggest a profile in the AWS credentials file:\n"
          f"{checked.stderr}")
    dry = run(["--config", conf, "--dry-run"], expect=0)
    check(old_access in dry.stdout, f"the dry run does not name the script's key:\n{dry.stdout}")
    check("aws-credentials" in dry.stdout + dry.stderr,
          "the dry run does not suggest a profile in the AWS credentials file")
    check(script.read_text() == original, "the dry run changed the script")

    rotated = run(["--config", conf, "--once", "--profile", "example"], expect=0)
    print(rotated.stdout.strip())
    keys = ks.keys()
    check(len(keys) == 1 and old_access not in keys, f"Keystone holds {sorted(keys)}")
    (new_access, (new_secret, _)), = keys.items()

    # Every byte but the four literals' contents is kept; the key in the comment and the
    # docstring stays (it is no keyword argument).
    text = script.read_text()
    expected = original
    for old, new in ((f"='{old_access}',  #", f"='{new_access}',  #"),
                     (f'="{old_secret}",', f'="{new_secret}",'),
                     (f"= '{old_access}', aws", f"= '{new_access}', aws"),
                     (f"= '{old_secret}')", f"= '{new_secret}')")):
        check(expected.count(old) == 1, f"the test's script holds {old!r} once")
        expected = expected.replace(old, new)
    check(text == expected, "the script changed elsewhere than in the four literals")
    check(f"Fill in aws_access_key_id='{old_access}' below." in text, "the docstring changed")
    ast.parse(text, filename=str(script))
    check(oct(script.stat().st_mode & 0o777) == "0o600", "the script's mode changed")

    run_script(script, expect_ok=True)
    check(s3_accepts(st, new_access, new_secret), "S3 accepts the new key (SigV4)")
    if backend() == "rgw":
        # Deleted in Keystone, but RGW still checks it against the secret it cached when the
        # script used it, for up to RGW_SECRET_CACHE_SECONDS.
        check(s3_accepts(st, old_access, old_secret), "RGW still accepts the old key (cache)")
    else:
        run_script(old_copy, expect_ok=False)
    rows = db_rows(state, "SELECT outcome, old_access, new_access FROM rotations")
    check(rows == [("succeeded", old_access, new_access)], f"rotations: {rows}")
    check([f for f in work.path.iterdir() if ".credrotd-" in f.name] == [],
          "a temp file is left beside the script")

    scan_for_secrets([state / "state.db", state / "state.db-wal", conf])
    work.cleanup()
    print(f"PASS a boto3 script with the key inline, rotated and run ({backend()})")


if __name__ == "__main__":
    main()
