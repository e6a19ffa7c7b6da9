#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Checks that every Keystone worker of a running test stack sees a change made through another.
"""check_keystone_coherence.py [STACK_ENV]

With several uwsgi workers each holds its own in-process cache, and keystone_wsgi_multi.py
makes every worker forget its cache after a request that wrote. This checks the outcome: after
each change below, twelve calls (spread over the workers by uwsgi) must all see it. (With all
caches kept and nothing forgotten, four of the six checks fail on 4 workers.) Uses a user and application
credential of its own (deleted at the end), never the stack's shared ones, so it can run
beside other tests. Changes: a revoked token, a removed and re-added role assignment, a deleted
application credential, a deleted EC2 credential. Exit status 0 when all hold; prints no
secret. STACK_ENV defaults to $CREDROTD_STACK_ENV (as ctest sets it).
"""
import hashlib
import json
import os
import secrets
import sys
import urllib.error
import urllib.request

ROUNDS = 12


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    return env


class Keystone:
    def __init__(self, url):
        self.url = url

    def call(self, method, path, body=None, token=None, subject=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-Auth-Token", token)
        if subject:
            req.add_header("X-Subject-Token", subject)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def token(self, identity, scope=None):
        body = {"auth": {"identity": identity}}
        if scope:
            body["auth"]["scope"] = scope
        status, headers, _ = self.call("POST", "/auth/tokens", body)
        return status, headers.get("X-Subject-Token") if status == 201 else None


def password(user_id, secret):
    return {"methods": ["password"], "password": {"user": {"id": user_id, "password": secret}}}


def app_cred(cred_id, secret):
    return {"methods": ["application_credential"],
            "application_credential": {"id": cred_id, "secret": secret}}


failures = []


def expect(what, statuses, want):
    seen = sorted(set(statuses))
    verdict = "ok" if seen == [want] else "FAIL"
    print("%-4s %s: %s (want only %d)" % (verdict, what, seen, want))
    if verdict != "ok":
        failures.append(what)


def main():
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    path = sys.argv[1] if len(sys.argv) == 2 else os.environ.get("CREDROTD_STACK_ENV")
    if not path:
        sys.exit("check_keystone_coherence.py: no STACK_ENV and CREDROTD_STACK_ENV is not set")
    env = load_env(path)
    ks = Keystone(env["KEYSTONE_URL"])
    project = env["PROJECT_ID"]
    scope = {"project": {"id": project}}
    _, admin = ks.token({"methods": ["password"], "password": {"user": {
        "name": env["ADMIN_NAME"], "domain": {"id": "default"},
        "password": env["ADMIN_PASSWORD"]}}},
        {"project": {"name": env["ADMIN_PROJECT_NAME"], "domain": {"id": "default"}}})
    if not admin:
        sys.exit("check_keystone_coherence.py: the admin cannot sign in")

    user_secret = secrets.token_hex(16)
    status, _, body = ks.call("POST", "/users", {"user": {
        "name": "coherence-" + secrets.token_hex(4), "domain_id": "default",
        "password": user_secret}}, admin)
    if status != 201:
        sys.exit("check_keystone_coherence.py: creating a user answered %d" % status)
    user = json.loads(body)["user"]["id"]
    try:
        status, _, body = ks.call("GET", "/roles?name=member", token=admin)
        member = json.loads(body)["roles"][0]["id"]
        grant = "/projects/%s/users/%s/roles/%s" % (project, user, member)
        ks.call("PUT", grant, token=admin)
        _, token = ks.token(password(user, user_secret), scope)
        status, _, body = ks.call("POST", "/users/%s/application_credentials" % user, {
            "application_credential": {"name": "coherence"}}, token)
        cred = json.loads(body)["application_credential"]
        access = secrets.token_hex(16)
        ks.call("POST", "/credentials", {"credential": {
            "type": "ec2", "user_id": user, "project_id": project,
            "blob": json.dumps({"access": access, "secret": secrets.token_hex(16)})}}, token)
        ec2_id = hashlib.sha256(access.encode()).hexdigest()

        # Fill every worker's caches with the state before the changes.
        for _ in range(ROUNDS):
            ks.token(password(user, user_secret), scope)
            ks.token(app_cred(cred["id"], cred["secret"]))
            ks.call("GET", "/auth/tokens", token=admin, subject=token)
            ks.call("GET", "/credentials/" + ec2_id, token=admin)
            ks.call("GET", "/users/%s/application_credentials/%s" % (user, cred["id"]),
                    token=admin)

        ks.call("DELETE", "/auth/tokens", token=admin, subject=token)
        expect("validating a revoked token",
               [ks.call("GET", "/auth/tokens", token=admin, subject=token)[0]
                for _ in range(ROUNDS)], 404)

        ks.call("DELETE", "/credentials/" + ec2_id, token=admin)
        expect("reading a deleted EC2 credential",
               [ks.call("GET", "/credentials/" + ec2_id, token=admin)[0]
                for _ in range(ROUNDS)], 404)

        ks.call("DELETE", "/users/%s/application_credentials/%s" % (user, cred["id"]),
                token=admin)
        expect("signing in with a deleted application credential",
               [ks.token(app_cred(cred["id"], cred["secret"]))[0] for _ in range(ROUNDS)], 404)
        expect("reading a deleted application credential",
               [ks.call("GET", "/users/%s/application_credentials/%s" % (user, cred["id"]),
                        token=admin)[0] for _ in range(ROUNDS)], 404)

        ks.call("DELETE", grant, token=admin)
        expect("a project token after the role was removed",
               [ks.token(password(user, user_secret), scope)[0] for _ in range(ROUNDS)], 401)
        ks.call("PUT", grant, token=admin)
        expect("a project token after the role was given back",
               [ks.token(password(user, user_secret), scope)[0] for _ in range(ROUNDS)], 201)
    finally:
        ks.call("DELETE", "/users/" + user, token=admin)

    if failures:
        sys.exit("check_keystone_coherence.py: %d stale answers" % len(failures))
    print("PASS: every worker saw every change")


if __name__ == "__main__":
    main()
