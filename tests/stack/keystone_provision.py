#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Creates the test project, users, roles, catalog and application credentials in a fresh Keystone.
"""keystone_provision.py

Talks to the Keystone API directly (urllib: one process, ~1 s, where the openstack CLI would take
~2 s per call). Reads its input from the environment, never argv (passwords):
  STACK_KEYSTONE_URL   http://127.0.0.1:PORT/v3
  STACK_SWIFT_ENDPOINT http://127.0.0.1:PORT (the proxy)
  STACK_REGION, STACK_PROJECT, STACK_ROTATOR, STACK_BYSTANDER, STACK_SWIFT_USER (names)
  STACK_ADMIN_PASSWORD, STACK_ROTATOR_PASSWORD, STACK_BYSTANDER_PASSWORD, STACK_SWIFT_PASSWORD
  STACK_RGW_USER, STACK_RGW_PASSWORD   optional (stack.sh --rgw): Ceph RGW's service user
Prints KEY=VALUE lines (ids and the application credentials' secrets) for stack.env.
"""
import json
import os
import sys
import urllib.error
import urllib.request

DOMAIN = "default"


class Keystone:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, body=None, token=None, expect=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
        if token:
            req.add_header("X-Auth-Token", token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, headers, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, headers, raw = err.code, err.headers, err.read()
        if status not in expect:
            # Bodies of these calls never hold a secret we sent; the request body might.
            sys.exit("keystone_provision.py: %s %s answered %d: %s"
                     % (method, path, status, raw.decode(errors="replace")[:500]))
        return headers, (json.loads(raw) if raw else {})

    def token(self, user, password, project):
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": DOMAIN}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": DOMAIN}}}}}
        headers, reply = self.call("POST", "/auth/tokens", body)
        return headers["X-Subject-Token"], reply["token"]["user"]["id"]


def main():
    env = os.environ
    ks = Keystone(env["STACK_KEYSTONE_URL"])
    admin, _ = ks.token("admin", env["STACK_ADMIN_PASSWORD"], "admin")
    out = {}

    def create(kind, body_key, body):
        return ks.call("POST", "/" + kind, {body_key: body}, admin)[1][body_key]["id"]

    def role_id(name):
        roles = ks.call("GET", "/roles?name=" + name, token=admin)[1]["roles"]
        if roles:
            return roles[0]["id"]
        return create("roles", "role", {"name": name})

    member = role_id("member")
    # Keystone's s3tokens/ec2tokens policy: admin or the "service" role.
    service_role = role_id("service")

    project = create("projects", "project", {"name": env["STACK_PROJECT"], "domain_id": DOMAIN})
    service_project = create("projects", "project", {"name": "service", "domain_id": DOMAIN})

    def user(name, password, default_project):
        return create("users", "user", {"name": name, "password": password, "domain_id": DOMAIN,
                                        "default_project_id": default_project})

    rotator = user(env["STACK_ROTATOR"], env["STACK_ROTATOR_PASSWORD"], project)
    bystander = user(env["STACK_BYSTANDER"], env["STACK_BYSTANDER_PASSWORD"], project)
    swift = user(env["STACK_SWIFT_USER"], env["STACK_SWIFT_PASSWORD"], service_project)
    grants = [(rotator, project, member), (bystander, project, member),
              (swift, service_project, service_role)]
    if env.get("STACK_RGW_USER"):
        # RGW posts to /v3/s3tokens (service or admin), then reads the key's secret with
        # GET /v3/users/{uid}/credentials/OS-EC2/{access}, which Keystone's policy lets only an
        # admin (or the key's owner) do. Without admin RGW still works but caches no secret.
        rgw = user(env["STACK_RGW_USER"], env["STACK_RGW_PASSWORD"], service_project)
        grants += [(rgw, service_project, service_role),
                   (rgw, service_project, role_id("admin"))]
        out["RGW_USER_ID"] = rgw
    for uid, pid, rid in grants:
        ks.call("PUT", "/projects/%s/users/%s/roles/%s" % (pid, uid, rid), token=admin)

    region = env["STACK_REGION"]
    proxy = env["STACK_SWIFT_ENDPOINT"].rstrip("/")
    for stype, name, url in (("object-store", "swift", proxy + "/v1/AUTH_%(project_id)s"),
                             ("s3", "s3", proxy)):
        sid = create("services", "service", {"type": stype, "name": name})
        create("endpoints", "endpoint", {"service_id": sid, "interface": "public",
                                         "url": url, "region_id": region})

    # Application credentials belong to the user, created with the user's own token.
    rotator_token, _ = ks.token(env["STACK_ROTATOR"], env["STACK_ROTATOR_PASSWORD"],
                                env["STACK_PROJECT"])

    def app_cred(body):
        reply = ks.call("POST", "/users/%s/application_credentials" % rotator,
                        {"application_credential": body}, rotator_token)[1]
        cred = reply["application_credential"]
        return cred["id"], cred["secret"]

    out["APPCRED_NAME"] = "rotator-unrestricted"
    out["APPCRED_ID"], out["APPCRED_SECRET"] = app_cred(
        {"name": out["APPCRED_NAME"], "unrestricted": True})
    out["APPCRED_RESTRICTED_NAME"] = "rotator-restricted"
    out["APPCRED_RESTRICTED_ID"], out["APPCRED_RESTRICTED_SECRET"] = app_cred(
        {"name": out["APPCRED_RESTRICTED_NAME"], "unrestricted": False,
         "roles": [{"name": "reader"}]})

    out.update(PROJECT_ID=project, ROTATOR_ID=rotator, BYSTANDER_ID=bystander,
               SERVICE_PROJECT_ID=service_project, SWIFT_USER_ID=swift)
    for key, value in out.items():
        print("%s=%s" % (key, value))


if __name__ == "__main__":
    main()
