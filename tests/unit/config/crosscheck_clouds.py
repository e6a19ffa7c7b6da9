#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Resolves the same clouds.yaml/secure.yaml/OS_* fixtures with the real openstack config loader
# (openstack.config.OpenStackConfig().get_one) and with credrotd's (config_clouds_probe), and
# fails on any difference. Secrets are compared as SHA-256 digests; none is printed.
# Plain scalars outside credrotd's YAML subset (AMBIGUOUS) must be refused by credrotd with
# file:line:column and "quote it", and once quoted must resolve identically in both.
#
# Usage: crosscheck_clouds.py PATH/TO/config_clouds_probe
# Needs Debian's /usr/bin/python3 with python3-openstacksdk (no network).
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings

warnings.simplefilter("ignore")

CLOUDS = r"""
# Every case below must resolve identically in openstack.config and in credrotd.
common: &common
  auth_url: https://keystone.example.org:5000/v3
  user_domain_name: Default
clouds:
  pw:
    auth:
      <<: *common
      username: s3rotator
      project_name: storage
      project_domain_name: Default
    region_name: RegionOne
  pw-ids:
    auth_type: v3password
    auth:
      auth_url: https://keystone.example.org:5000/v3
      user_id: 0123abcd
      project_id: 42
    interface: internal
  pw-octal:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      user_id: u1
      project_id: "0123"
    region_name: [r1, r2]
  pw-legacy:
    auth_plugin: password
    auth:
      auth-url: https://keystone.example.org:5000/v3
      user-name: legacy
      user-domain-id: default
      tenant_name: old-project
      project-domain-id: default
    endpoint_type: admin
  pw-toplevel:
    auth_url: https://keystone.example.org:5000/v3
    username: top
    password: toppass
    user_domain_name: Default
    project_id: p1
  pw-domain-shortcut:
    domain_name: Corp
    auth:
      auth_url: https://keystone.example.org:5000/v3
      username: alice
      project_name: storage
  pw-default-domain:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      username: bob
      project_name: storage
      default_domain_id: default
  pw-regions:
    regions:
      - name: RegionTwo
        values:
          interface: internal
      - RegionThree
    auth:
      auth_url: https://{region_name}.example.org:5000/v3
      user_id: u2
      project_id: p2
  pw-comma-region:
    region_name: "east,west"
    auth:
      auth_url: https://keystone.example.org:5000/v3
      user_id: u3
      project_id: p3
  pw-insecure:
    insecure: true
    cacert: /etc/ssl/certs/ca-certificates.crt
    auth:
      auth_url: https://keystone.example.org:5000/v3
      user_id: u4
      project_id: p4
  pw-insecure-string:
    insecure: "yes"
    auth:
      auth_url: https://keystone.example.org:5000/v3
      user_id: u5
      project_id: p5
  pw-verify-false:
    verify: false
    auth:
      auth_url: https://keystone.example.org:5000/v3
      user_id: u6
      project_id: p6
  pw-cacert-home:
    cacert: ~/ca.pem
    cert: /etc/credrotd/client.pem
    key: /etc/credrotd/client.key
    auth:
      auth_url: https://keystone.example.org:5000/v3
      user_id: u7
      project_id: p7
  pw-dup:
    auth:
      auth_url: https://first.example.org/v3
      user_id: u8
      project_id: p8
  pw-dup:
    auth:
      auth_url: https://second.example.org/v3
      user_id: u9
      project_id: p9
  ac:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_id: 0123abcd
    region_name: RegionOne
  ac-name:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_name: rotator
      username: s3rotator
      user_domain_id: default
  tok:
    auth_type: v3token
    auth:
      auth_url: https://keystone.example.org:5000/v3
      project_id: 42
  tok-legacy:
    auth_type: token
    auth_token: legacy-token
    auth:
      auth_url: https://keystone.example.org:5000/v3
      project_id: p10
  # Both loaders must refuse these.
  bad-appcred-extra:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_id: x
      application_credential_secret: y
      password: not-for-appcreds
  bad-project-name-without-domain:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_id: x
      application_credential_secret: y
      project_name: p
  bad-auth-type:
    auth_type: v3oidcpassword
    auth:
      auth_url: https://keystone.example.org:5000/v3
"""

SECURE = r"""
clouds:
  pw:
    auth:
      password: "s3cr3t with spaces"
  pw-ids:
    auth:
      password: 12345
  pw-octal:
    auth:
      password: p@ss
  pw-legacy:
    auth:
      password: legacy-pass
  pw-domain-shortcut:
    auth:
      password: alice-pass
  pw-default-domain:
    auth:
      password: bob-pass
  pw-regions: {auth: {password: r}}
  pw-comma-region: {auth: {password: c}}
  pw-insecure: {auth: {password: i}}
  pw-insecure-string: {auth: {password: s}}
  pw-verify-false: {auth: {password: v}}
  pw-cacert-home: {auth: {password: h}}
  pw-dup: {auth: {password: d}}
  ac:
    auth:
      application_credential_secret: appsecret
  ac-name:
    auth:
      application_credential_secret: appsecret2
  tok:
    auth:
      token: gAAAAA-token
"""

# Clouds credrotd refuses on purpose although openstack.config accepts them (reason given).
DIVERGENT = {}

# Scenarios: files to create (relative to a temp root), the environment, the cwd, and the
# clouds to resolve.
SCENARIOS = [
    {
        "name": "user config dir, secure.yaml merged",
        "files": {"home/.config/openstack/clouds.yaml": CLOUDS,
                  "home/.config/openstack/secure.yaml": SECURE},
        "env": {},
        "cwd": "work",
        "clouds": None,  # every cloud of the file
    },
    {
        "name": "a clouds.yml in the working directory shadows the user's clouds.yaml",
        "files": {"home/.config/openstack/clouds.yaml": CLOUDS,
                  "home/.config/openstack/secure.yaml": SECURE,
                  "work/clouds.yml": "clouds:\n  pw:\n    auth:\n      auth_url: http://cwd/v3\n"
                                     "      user_id: cwd-user\n      project_id: cwd\n"},
        "env": {},
        "cwd": "work",
        "clouds": ["pw", "pw-ids"],
    },
    {
        "name": "OS_CLIENT_CONFIG_FILE and OS_CLIENT_SECURE_FILE come first",
        "files": {"etc/c.yaml": CLOUDS, "etc/s.yaml": SECURE,
                  "home/.config/openstack/clouds.yaml": "clouds: {}\n"},
        "env": {"OS_CLIENT_CONFIG_FILE": "{root}/etc/c.yaml",
                "OS_CLIENT_SECURE_FILE": "{root}/etc/s.yaml"},
        "cwd": "work",
        "clouds": ["pw", "ac", "tok"],
    },
    {
        "name": "XDG_CONFIG_HOME is searched before ~/.config",
        "files": {"xdg/openstack/clouds.yaml": CLOUDS, "xdg/openstack/secure.yaml": SECURE,
                  "home/.config/openstack/clouds.yaml": "clouds: {}\n"},
        "env": {"XDG_CONFIG_HOME": "{root}/xdg"},
        "cwd": "work",
        "clouds": ["pw", "ac-name"],
    },
    {
        "name": "OS_* variables make the envvars cloud (password)",
        "files": {},
        "env": {"OS_AUTH_URL": "https://keystone.example.org:5000/v3", "OS_USERNAME": "envuser",
                "OS_PASSWORD": "envpass", "OS_USER_DOMAIN_NAME": "Default",
                "OS_PROJECT_NAME": "envproject", "OS_PROJECT_DOMAIN_ID": "default",
                "OS_INTERFACE": "internal", "OS_REGION_NAME": "RegionOne",
                "OS_CACERT": "/etc/ssl/certs/ca-certificates.crt", "OS_IDENTITY_API_VERSION": "3"},
        "cwd": "work",
        "clouds": ["envvars"],
    },
    {
        "name": "OS_* variables make the envvars cloud (application credential, renamed)",
        "files": {},
        "env": {"OS_AUTH_TYPE": "v3applicationcredential",
                "OS_AUTH_URL": "https://keystone.example.org:5000/v3",
                "OS_APPLICATION_CREDENTIAL_ID": "abc", "OS_APPLICATION_CREDENTIAL_SECRET": "def",
                "OS_CLOUD_NAME": "fromenv", "OS_INSECURE": "true"},
        "cwd": "work",
        "clouds": ["fromenv"],
    },
    {
        "name": "legacy OS_TENANT_NAME and OS_ENDPOINT_TYPE",
        "files": {},
        "env": {"OS_AUTH_URL": "https://keystone.example.org:5000/v3", "OS_USER_ID": "u",
                "OS_PASSWORD": "p", "OS_TENANT_ID": "t1", "OS_ENDPOINT_TYPE": "adminURL"},
        "cwd": "work",
        "clouds": ["envvars"],
    },
    {
        "name": "a tab in clouds.yaml is refused by both",
        "files": {"work/clouds.yaml": "clouds:\n  c1:\n    auth:\t{auth_url: x}\n"},
        "env": {},
        "cwd": "work",
        "clouds": ["c1"],
    },
    {
        "name": "BOM and CRLF are fine",
        "files": {"work/clouds.yaml": "\ufeffclouds:\r\n  c1:\r\n    auth:\r\n"
                                      "      auth_url: http://k/v3\r\n      user_id: u\r\n"
                                      "      password: p\r\n      project_id: 7\r\n"},
        "env": {},
        "cwd": "work",
        "clouds": ["c1", "nosuch"],
    },
]

FIELDS = ["auth_url", "username", "user_id", "user_domain_name", "user_domain_id", "project_name",
          "project_id", "project_domain_name", "project_domain_id", "application_credential_id",
          "application_credential_name"]
SECRETS = ["password", "application_credential_secret", "token"]
TYPES = {"password": "password", "v3password": "password",
         "v3applicationcredential": "application_credential", "token": "token",
         "v3token": "token"}


def digest(value):
    if not value:
        return ""
    return "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()


PYTHON_SIDE = r"""
import json, os, sys, warnings
warnings.simplefilter("ignore")
import openstack.config
names = json.loads(sys.argv[1])
try:
    config = openstack.config.OpenStackConfig()
except Exception as error:
    print(json.dumps({"load_error": type(error).__name__}))
    sys.exit(0)
if names is None:
    names = [n for n in config.get_cloud_names() if n != "common"]
    print(json.dumps({"names": list(names)}))
for name in names:
    try:
        region = config.get_one(name)
        verify, _ = region.get_requests_verify_args()
        print(json.dumps({"cloud": name, "ok": True, "config": region.config,
                          "verify": bool(verify),
                          "cacert": verify if isinstance(verify, str) else ""}, default=str))
    except Exception as error:
        print(json.dumps({"cloud": name, "ok": False, "error": type(error).__name__}))
"""


def python_view(line):
    """The fields credrotd keeps, from openstack.config's resolved config."""
    if not line["ok"]:
        return {"cloud": line["cloud"], "ok": False}
    config = line["config"]
    auth = config.get("auth") or {}
    kind = TYPES.get(config.get("auth_type"), config.get("auth_type"))
    out = {"cloud": line["cloud"], "ok": True, "auth_type": kind}
    for field in FIELDS:
        out[field] = str(auth.get(field) or "")
    for field in SECRETS:
        out[field] = digest(auth.get(field))
    # keystoneauth's generic plugins apply default_domain_* to the user and the project.
    for part in ("user", "project"):
        if not out[part + "_domain_id"] and not out[part + "_domain_name"]:
            out[part + "_domain_id"] = str(auth.get("default_domain_id") or "")
            out[part + "_domain_name"] = str(auth.get("default_domain_name") or "")
    if kind == "application_credential":
        for field in ("project_id", "project_name", "project_domain_id", "project_domain_name"):
            out[field] = ""
    interface = config.get("interface") or "public"
    out["interface"] = interface[:-3] if interface.endswith("URL") else interface
    out["region_name"] = str(config.get("region_name") or "")
    out["verify"] = line["verify"]
    out["cacert"] = line["cacert"]
    out["cert"] = os.path.expanduser(config.get("cert") or "")
    out["key"] = os.path.expanduser(config.get("key") or "")
    return out


def ours_view(line):
    if not line["ok"]:
        return {"cloud": line["cloud"], "ok": False}
    return {k: v for k, v in line.items() if k != "error"}


def run(argv, env, cwd):
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({result.returncode}): {result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def run_both(probe, scenario, root):
    """Writes the scenario's files under root; returns (openstack.config's lines, credrotd's)."""
    for path, text in scenario["files"].items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(full, 0o600)
    os.makedirs(os.path.join(root, "home"), exist_ok=True)
    cwd = os.path.join(root, scenario["cwd"])
    os.makedirs(cwd, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": os.path.join(root, "home"),
           "LANG": "C.UTF-8", "XDG_CONFIG_DIRS": os.path.join(root, "xdgdirs")}
    for key, value in scenario["env"].items():
        env[key] = value.replace("{root}", root)
    python = run(["/usr/bin/python3", "-c", PYTHON_SIDE, json.dumps(scenario["clouds"])],
                 env, cwd)
    names = scenario["clouds"]
    if names is None and python and "names" in python[0]:
        names = python[0]["names"]
        python = python[1:]
    return python, run([probe] + (names or []), env, cwd)


def compare(probe, scenario):
    """(clouds compared, differences) for one scenario."""
    failures = 0
    compared = 0
    with tempfile.TemporaryDirectory(prefix="credrotd-crosscheck-") as root:
        python, ours = run_both(probe, scenario, root)
    if python and "load_error" in python[0]:
        if not ours or "load_error" not in ours[0]:
            print(f"FAIL [{scenario['name']}]: openstack.config refuses the files "
                  f"({python[0]['load_error']}), credrotd does not: {ours}")
            return 1, 1
        print(f"ok   [{scenario['name']}]: both refuse the files")
        return 1, 0
    if ours and "load_error" in ours[0]:
        print(f"FAIL [{scenario['name']}]: credrotd refuses files openstack.config reads: "
              f"{ours[0]['load_error']}")
        return 1, 1
    for theirs_line, ours_line in zip(python, ours):
        name = theirs_line["cloud"]
        compared += 1
        theirs_view = python_view(theirs_line)
        mine = ours_view(ours_line)
        if name in DIVERGENT:
            print(f"skip [{scenario['name']}] {name}: {DIVERGENT[name]}")
            continue
        if theirs_view != mine:
            failures += 1
            print(f"FAIL [{scenario['name']}] {name}:")
            for key in sorted(set(theirs_view) | set(mine)):
                if theirs_view.get(key) != mine.get(key):
                    print(f"    {key}: openstack.config={theirs_view.get(key)!r} "
                          f"credrotd={mine.get(key)!r}")
            if "error" in ours_line:
                print(f"    credrotd error: {ours_line['error']}")
        else:
            state = "resolved" if mine["ok"] else "refused by both"
            print(f"ok   [{scenario['name']}] {name}: {state}")
    return compared, failures


def ambiguous_scenario(name, values):
    clouds = "clouds:\n" + "".join(
        f"  c{i}:\n    auth:\n      auth_url: http://k/v3\n      user_id: u\n"
        f"      password: p\n      project_id: {value}\n" for i, value in enumerate(values))
    return {"name": name, "files": {"work/clouds.yaml": clouds}, "env": {}, "cwd": "work",
            "clouds": [f"c{i}" for i in range(len(values))]}


def check_ambiguous(probe):
    """credrotd refuses each plain scalar where it is written (a file each); quoted, both
    loaders read them alike. openstack.config's reading of the plain ones is printed."""
    failures = 0
    with tempfile.TemporaryDirectory(prefix="credrotd-crosscheck-") as root:
        theirs, _ = run_both(probe, ambiguous_scenario("plain", AMBIGUOUS), root)
    for value, line in zip(AMBIGUOUS, theirs):
        reading = line["config"]["auth"].get("project_id") if line.get("ok") else line
        with tempfile.TemporaryDirectory(prefix="credrotd-crosscheck-") as root:
            os.makedirs(os.path.join(root, "work"))
            with open(os.path.join(root, "work/clouds.yaml"), "w", encoding="utf-8") as f:
                f.write(ambiguous_scenario("", [value])["files"]["work/clouds.yaml"])
            env = {"PATH": "/usr/bin:/bin", "HOME": os.path.join(root, "home"),
                   "XDG_CONFIG_DIRS": os.path.join(root, "xdgdirs")}
            ours = run([probe, "c0"], env, os.path.join(root, "work"))
        error = ours[0].get("load_error", "") if ours else ""
        if "/work/clouds.yaml:7:19: " not in error or "quote it" not in error:
            failures += 1
            print(f"FAIL [project_id: {value}]: credrotd does not refuse it at 7:19 with "
                  f"'quote it': {ours}")
        else:
            print(f"ok   [project_id: {value}]: refused by credrotd; openstack.config reads "
                  f"{reading!r}")
    quoted = [json.dumps(value) for value in AMBIGUOUS]
    compared, differences = compare(probe, ambiguous_scenario("the same, quoted", quoted))
    return len(AMBIGUOUS) + compared, failures + differences


# Plain scalars whose meaning PyYAML (YAML 1.1) changes or that YAML 1.2 reads differently.
AMBIGUOUS = ["0123", "0x1f", "0b101", "1_000", "+5", "-0", "1:30", "1.50", "1e5", ".inf", ".nan",
             "yes", "off", "On", "~", "2024-01-01", "2001-12-14t21:59:43.10-05:00"]


def main():
    probe = sys.argv[1]
    failures = 0
    compared = 0
    for scenario in SCENARIOS:
        more, failed = compare(probe, scenario)
        compared += more
        failures += failed
    more, failed = check_ambiguous(probe)
    compared += more
    failures += failed
    print(f"{compared} clouds compared, {failures} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
