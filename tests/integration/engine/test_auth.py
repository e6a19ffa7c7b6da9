#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Where credrotd's Keystone identity comes from, end to end: a rotation with the identity in
OS_* environment variables (the `envvars` cloud), with a Keystone token (auth_type token),
over TLS with the stack's CA; and an application credential, which this Keystone refuses for
EC2 management, giving an error that tells the operator what to use instead."""

from testlib import (SECRETS, Consumers, TestUser, Workdir, check, clean_env, db_rows, run, s3_accepts,
                     scan_for_secrets, stack)


def config(st, name, files, state, cloud, clouds_file=None, extra=""):
    daemon = f'[daemon]\nstate_dir = "{state}"\n'
    if clouds_file:
        daemon += f'clouds_file = "{clouds_file}"\n'
    text = (daemon + f'\n[profile.{name}]\ncloud = "{cloud}"\ns3_endpoint = "{st["S3_URL"]}"\n'
            f'grace = "0s"\n{extra}\n')
    return text + files.config().replace("{name}", name)


def rotated(st, user, files, state, label):
    access, secret = files.keys()["s3cmd"]
    check(s3_accepts(st, access, secret), f"{label}: the new key works")
    check(set(user.keystone.keys()) == {access}, f"{label}: Keystone holds just the new key")
    outcome = db_rows(state, "SELECT outcome FROM rotations ORDER BY id DESC LIMIT 1")[0][0]
    check(outcome == "succeeded", f"{label}: {outcome}")


def main():
    st = stack()

    # OS_* variables, as an openrc file sets them; no clouds.yaml at all.
    work = Workdir("auth-env")
    user = TestUser(st, work.path, "authenv")
    files = Consumers(work.path / "files", st)
    files.write(*user.keystone.create())
    conf = work.path / "credrotd.toml"
    conf.write_text(config(st, "env", files, work.path / "state", "envvars"))
    env = clean_env(OS_AUTH_URL=st["KEYSTONE_URL"], OS_AUTH_TYPE="password",
                    OS_USERNAME=user.name, OS_PASSWORD=user.password,
                    OS_PROJECT_NAME=st["PROJECT_NAME"], OS_USER_DOMAIN_NAME="Default",
                    OS_PROJECT_DOMAIN_NAME="Default", OS_REGION_NAME="RegionOne")
    run(["--config", conf, "--once", "--profile", "env"], env=env, expect=0)
    rotated(st, user, files, work.path / "state", "OS_* variables")
    work.cleanup()
    print("PASS identity from OS_* variables")

    # A token, scoped to the project (auth_type token in clouds.yaml).
    work = Workdir("auth-token")
    user = TestUser(st, work.path, "authtoken")
    files = Consumers(work.path / "files", st)
    files.write(*user.keystone.create())
    token = user.keystone.token()
    SECRETS.add(token)
    clouds = work.path / "token-clouds.yaml"
    clouds.write_text("clouds:\n  tok:\n    auth_type: token\n    auth:\n"
                      f"      auth_url: {st['KEYSTONE_URL']}\n      token: {token}\n"
                      f"      project_id: {st['PROJECT_ID']}\n    region_name: RegionOne\n")
    clouds.chmod(0o600)
    conf = work.path / "credrotd.toml"
    conf.write_text(config(st, "tok", files, work.path / "state", "tok", clouds_file=clouds))
    run(["--config", conf, "--once", "--profile", "tok"], expect=0)
    rotated(st, user, files, work.path / "state", "token")
    work.cleanup()
    print("PASS identity from a token")

    # TLS: Keystone behind https with the CA made at stack start.
    work = Workdir("auth-tls")
    user = TestUser(st, work.path, "authtls")
    files = Consumers(work.path / "files", st)
    files.write(*user.keystone.create())
    user.write_clouds(st["KEYSTONE_HTTPS_URL"])
    text = user.clouds_file.read_text().replace("    interface: public\n",
                                                f"    interface: public\n    cacert: {st['CA_FILE']}\n")
    user.clouds_file.write_text(text)
    conf = work.path / "credrotd.toml"
    conf.write_text(config(st, "tls", files, work.path / "state", user.cloud,
                           clouds_file=user.clouds_file))
    run(["--config", conf, "--once", "--profile", "tls"], expect=0)
    rotated(st, user, files, work.path / "state", "TLS")
    # The same Keystone under a name its certificate does not carry: refused, nothing changed.
    before = files.keys()
    user.write_clouds(st["KEYSTONE_HTTPS_WRONG_NAME_URL"])
    user.clouds_file.write_text(user.clouds_file.read_text().replace(
        "    interface: public\n", f"    interface: public\n    cacert: {st['CA_FILE']}\n"))
    wrong = run(["--config", conf, "--once", "--profile", "tls"], expect=1)
    check("host name" in wrong.stdout + wrong.stderr, f"the refusal names the host name check: "
          f"{wrong.stdout[-300:]}")
    check(files.keys() == before, "a refused TLS connection changes nothing")
    work.cleanup()
    print("PASS TLS with the test CA; wrong host name refused")

    # An application credential: this Keystone refuses EC2 management with it.
    work = Workdir("auth-appcred")
    files = Consumers(work.path / "files", st)
    files.write("0" * 32, "s" * 32)  # unknown to Keystone; nothing will be adopted
    conf = work.path / "credrotd.toml"
    conf.write_text(config(st, "app", files, work.path / "state", st["CLOUD_ROTATOR_APPCRED"],
                           clouds_file=st["OS_CLIENT_CONFIG_FILE"]))
    proc = run(["--config", conf, "--once", "--profile", "app"], expect=1)
    text = proc.stdout + proc.stderr
    check("password identity" in text, f"the error tells the operator what to use: {text[-400:]}")
    check(files.keys()["s3cmd"][0] == "0" * 32, "the files are unchanged")
    work.cleanup()
    print("PASS application credential refused with a clear message")

    scan_for_secrets()
    print("PASS identity sources")


if __name__ == "__main__":
    main()
