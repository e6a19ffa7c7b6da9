#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Times typical Keystone calls (and one signed S3 request) against a running test stack.
"""keystone_timing.py STACK_ENV [ROUNDS]

Prints the median and 90th percentile, in milliseconds, of: password token issue, EC2
credential create/list/delete through OS-EC2 and through /v3/credentials (client-chosen access
id, what credrotd prefers), and an S3 ListBuckets signed with SigV4 (botocore) that Swift checks
through s3token -> Keystone /v3/s3tokens. Each call opens its own connection, as uwsgi closes
it after every response anyway. Uses the rotator of STACK_ENV; leaves no credential behind.
Prints no secret.
"""
import hashlib
import json
import secrets
import statistics
import sys
import time
import urllib.error
import urllib.request


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    return env


def call(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def timed(samples, name, fn):
    start = time.perf_counter()
    result = fn()
    samples.setdefault(name, []).append((time.perf_counter() - start) * 1000.0)
    return result


def check(status, want, what):
    if status != want:
        sys.exit("keystone_timing.py: %s answered %d, expected %d" % (what, status, want))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    env = load_env(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) == 3 else 30
    ks = env["KEYSTONE_URL"]
    user, project = env["ROTATOR_ID"], env["PROJECT_ID"]
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "id": user, "password": env["ROTATOR_PASSWORD"]}}},
        "scope": {"project": {"id": project}}}}

    import botocore.session
    from botocore.config import Config

    samples = {}
    for _ in range(rounds):
        status, headers, _ = timed(samples, "token issue (password)",
                                   lambda: call("POST", ks + "/auth/tokens", auth))
        check(status, 201, "token issue")
        token = headers["X-Subject-Token"]

        ec2 = "%s/users/%s/credentials/OS-EC2" % (ks, user)
        status, _, body = timed(samples, "OS-EC2 create", lambda: call(
            "POST", ec2, {"tenant_id": project}, token))
        check(status, 201, "OS-EC2 create")
        cred = json.loads(body)["credential"]
        status, _, _ = timed(samples, "OS-EC2 list", lambda: call("GET", ec2, token=token))
        check(status, 200, "OS-EC2 list")

        # The S3 request: keys straight from the create, signed with SigV4 for us-east-1.
        s3 = botocore.session.get_session().create_client(
            "s3", endpoint_url=env["S3_URL"], region_name=env["S3_REGION"],
            aws_access_key_id=cred["access"], aws_secret_access_key=cred["secret"],
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                          retries={"max_attempts": 1}))
        reply = timed(samples, "S3 ListBuckets (SigV4, via s3tokens)", s3.list_buckets)
        check(reply["ResponseMetadata"]["HTTPStatusCode"], 200, "S3 ListBuckets")

        status, _, _ = timed(samples, "OS-EC2 delete", lambda: call(
            "DELETE", "%s/%s" % (ec2, cred["access"]), token=token))
        check(status, 204, "OS-EC2 delete")

        access = secrets.token_hex(16)
        blob = json.dumps({"access": access, "secret": secrets.token_hex(16)})
        status, _, _ = timed(samples, "/v3/credentials create (chosen access)", lambda: call(
            "POST", ks + "/credentials", {"credential": {
                "type": "ec2", "user_id": user, "project_id": project, "blob": blob}}, token))
        check(status, 201, "/v3/credentials create")
        status, _, _ = timed(samples, "/v3/credentials list (type=ec2)", lambda: call(
            "GET", "%s/credentials?type=ec2&user_id=%s" % (ks, user), token=token))
        check(status, 200, "/v3/credentials list")
        cred_id = hashlib.sha256(access.encode()).hexdigest()
        status, _, _ = timed(samples, "/v3/credentials delete", lambda: call(
            "DELETE", "%s/credentials/%s" % (ks, cred_id), token=token))
        check(status, 204, "/v3/credentials delete")

    print("keystone workers: %s, rounds: %d" % (env.get("KEYSTONE_WORKERS", "?"), rounds))
    for name, values in samples.items():
        values.sort()
        p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
        print("  %-40s median %6.1f ms  p90 %6.1f ms" % (name, statistics.median(values), p90))


if __name__ == "__main__":
    main()
