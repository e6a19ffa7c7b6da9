# SPDX-License-Identifier: Apache-2.0
"""credrotd's metrics textfile read by the real node_exporter (textfile collector) and scraped
every second by the real Prometheus, which also evaluates the shipped alert rules: a rotation
rolled back and one that succeeds (watched in its grace phase) against the local cloud, every
series queried back through Prometheus's HTTP API, the rolled back rotation's alert firing,
every query of the shipped Grafana dashboard accepted by Prometheus; then the daemon, idle,
rewriting the file within a minute (what the stale-file alert relies on).

Against Ceph RGW (CREDROTD_S3_BACKEND=rgw) the old key, used just before the rotation, is
still accepted from RGW's cache when it is deleted: credrotd_unconfirmed_revocations is 1 and
the shipped rule holds CredrotdRevocationUnconfirmed pending. The idle daemon part, which does
not depend on the endpoint, runs against Swift only.

Run with Debian's /usr/bin/python3 through ctest (it starts the local cloud)."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from testlib import (CREDROTD, OUTPUTS, SECRETS, SOURCE_DIR, Daemon,  # noqa: E402
                     FaultProxy, PrivateBus, TestUser, Workdir, backend, check, clean_env, fail,
                     run, s3_accepts, scan_for_secrets, stack, wait_for)

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PROMETHEUS = "/usr/bin/prometheus"
GRACE = 15  # seconds the successful rotation stays in its grace phase


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read()


class Process:
    """A server of the test, its output in a file, stopped by PID."""

    def __init__(self, argv, log_path, ready_url, what):
        self.what = what
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})

        def ready():
            if self.proc.poll() is not None:
                fail(f"{what} exited with {self.proc.returncode}:\n{log_path.read_text()}")
            try:
                return http_get(ready_url)[0] == 200
            except OSError:
                return False
        try:
            wait_for(ready, 60, f"{what} to answer {ready_url}", every=0.1)
        except BaseException:  # fail() exits: stop it first
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        OUTPUTS.append((self.what, self.log_path.read_text()))


class Prometheus:
    def __init__(self, work, textfile_dir):
        self.exporter_port = free_port()
        self.exporter = Process(
            [NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
             f"--collector.textfile.directory={textfile_dir}",
             f"--web.listen-address=127.0.0.1:{self.exporter_port}"],
            work / "node-exporter.log", f"http://127.0.0.1:{self.exporter_port}/metrics",
            "node_exporter")
        self.instance = f"127.0.0.1:{self.exporter_port}"
        config = work / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {SOURCE_DIR / 'monitoring' / 'credrotd-alerts.yml'}\n"
            "scrape_configs:\n  - job_name: node\n    static_configs:\n"
            f"      - targets: ['{self.instance}']\n")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        try:
            self.server = Process(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                work / "prometheus.log", self.url + "/-/ready", "prometheus")
        except BaseException:
            self.exporter.stop()
            raise

    def query(self, expr):
        """The instant vector of `expr`: [(labels, value)]; fails on an error answer."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            _, body = http_get(url)
        except urllib.error.HTTPError as e:
            fail(f"Prometheus refused {expr!r}: {e.code} {e.read().decode(errors='replace')}")
        doc = json.loads(body)
        check(doc["status"] == "success", f"query {expr!r}: {doc}")
        if doc["data"]["resultType"] == "scalar":
            return [({}, float(doc["data"]["result"][1]))]
        return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]

    def value(self, expr):
        """The single value of `expr`, or None while there is none."""
        result = self.query(expr)
        check(len(result) <= 1, f"{expr!r} has several series: {result}")
        return result[0][1] if result else None

    def wait_value(self, expr, predicate, what, timeout=30):
        def ok():
            v = self.value(expr)
            return v is not None and predicate(v)
        wait_for(ok, timeout, f"{what} ({expr})", every=0.2)
        return self.value(expr)

    def stop(self):
        self.server.stop()
        self.exporter.stop()


def envfile(path, access, secret):
    SECRETS.add(secret)
    path.write_text(f"AWS_ACCESS_KEY_ID={access}\nAWS_SECRET_ACCESS_KEY={secret}\n")
    os.chmod(path, 0o600)


def clouds_yaml(path, users, st):
    text = "clouds:\n"
    for cloud, user in users.items():
        text += (f"  {cloud}:\n    auth:\n      auth_url: {st['KEYSTONE_URL']}\n"
                 f"      username: {user.name}\n      password: {user.password}\n"
                 "      project_name: credrotd\n      user_domain_name: Default\n"
                 "      project_domain_name: Default\n    region_name: RegionOne\n"
                 "    interface: public\n")
    path.write_text(text)
    os.chmod(path, 0o600)


def main():
    st = stack()
    work = Workdir("prometheus")
    textfile_dir = work.path / "textfile"
    textfile_dir.mkdir()
    metrics = textfile_dir / "credrotd.prom"

    # Two users of their own: "ok" rotates and succeeds, "bad" is rolled back because S3
    # (through a proxy) refuses every key but its old one.
    users = {"ok": TestUser(st, work.path, "prom-ok"), "bad": TestUser(st, work.path, "prom-bad")}
    clouds = work.path / "clouds-both.yaml"
    clouds_yaml(clouds, users, st)
    old = {name: user.keystone.create() for name, user in users.items()}
    for name, (access, secret) in old.items():
        envfile(work.path / f"{name}.env", access, secret)
    proxy = FaultProxy(st["S3_URL"], work.path,
                       [{"s3_refuse_unless": old["bad"][0], "action": "403"}])
    state = work.path / "state"
    conf = work.path / "credrotd.toml"
    conf.write_text(
        f'[daemon]\nstate_dir = "{state}"\nclouds_file = "{clouds}"\n'
        f'metrics_file = "{metrics}"\n\n'
        f'[profile.ok]\ncloud = "ok"\ns3_endpoint = "{st["S3_URL"]}"\ninterval = "30d"\n'
        f'jitter = "2h"\ngrace = "{GRACE}s"\n'
        f'[[profile.ok.consumer]]\ntype = "envfile"\npath = "{work.path / "ok.env"}"\n\n'
        f'[profile.bad]\ncloud = "bad"\ns3_endpoint = "{proxy.url}"\ninterval = "7d"\n'
        'grace = "0s"\nverify_timeout = "2s"\n'
        f'[[profile.bad.consumer]]\ntype = "envfile"\npath = "{work.path / "bad.env"}"\n')

    started = time.time()
    prom = Prometheus(work.path, textfile_dir)
    try:
        watch(prom, st, conf, metrics, started, old["ok"])
        if backend() == "swift":
            idle_daemon(prom, conf, metrics, work.path)
    finally:
        prom.stop()
        proxy.stop()
    scan_for_secrets([state / "state.db", state / "state.db-wal", metrics])
    work.cleanup()
    print(f"PASS credrotd's metrics through node_exporter and Prometheus ({backend()})")


def watch(prom, st, conf, metrics, started, ok_key):
    sel = lambda profile, **labels: "{" + ",".join(  # noqa: E731
        [f'profile="{profile}"'] + [f'{k}="{v}"' for k, v in labels.items()]) + "}"

    # 1. The rolled back rotation.
    run(["--config", conf, "--once", "--profile", "bad"], expect=1)
    prom.wait_value("credrotd_rotations_total" + sel("bad", result="rolled_back"),
                    lambda v: v == 1, "the rollback counted")
    check(prom.value("credrotd_rotations_total" + sel("bad", result="succeeded")) == 0,
          "no success counted for bad")
    check(prom.value("credrotd_last_rotation_result" + sel("bad", result="rolled_back")) == 1,
          "bad's last result is rolled_back")
    check(prom.value("credrotd_last_rotation_result" + sel("bad", result="succeeded")) == 0,
          "bad's last result is not succeeded")
    finished = prom.value("credrotd_last_rotation_timestamp_seconds" + sel("bad"))
    check(finished is not None and started <= finished <= time.time(),
          f"bad's last rotation finished during the test: {finished}")
    check(prom.value("credrotd_last_success_timestamp_seconds" + sel("bad")) is None,
          "bad never succeeded")
    check(prom.value("credrotd_rotation_interval_seconds" + sel("bad")) == 7 * 86400,
          "bad's interval is 7d")
    # The shipped rule, evaluated by this Prometheus every second.
    prom.wait_value('ALERTS{alertname="CredrotdRotationFailed",alertstate="firing",'
                    'profile="bad",result="rolled_back"}', lambda v: v == 1,
                    "CredrotdRotationFailed firing for bad")

    # 2. The successful rotation, watched while it waits in its grace phase. Its old key is
    # in use until then (and so in RGW's cache when it is deleted).
    check(s3_accepts(st, *ok_key), "S3 accepts ok's old key before the rotation")
    proc = subprocess.Popen([str(CREDROTD), "--config", str(conf), "--once", "--profile", "ok"],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        prom.wait_value("credrotd_rotation_phase" + sel("ok", phase="grace"), lambda v: v == 1,
                        "ok's rotation in its grace phase", timeout=GRACE)
        check(prom.value("credrotd_rotation_running" + sel("ok")) == 1, "ok is running")
        check(prom.value("credrotd_rotation_running" + sel("bad")) == 0, "bad is not running")
        phases = prom.query("credrotd_rotation_phase" + sel("ok"))
        check([m["phase"] for m, _ in phases] == ["grace"], f"one phase at a time: {phases}")
        since = prom.value("credrotd_rotation_phase_since_timestamp_seconds" + sel("ok"))
        deadline = prom.value("credrotd_rotation_phase_deadline_timestamp_seconds" +
                              sel("ok", phase="grace"))
        check(started <= since <= time.time(), f"the grace phase began during the test: {since}")
        check(abs(deadline - since - GRACE) < 0.01, f"grace ends {GRACE} s after it began: "
                                                    f"{since} {deadline}")
        check(prom.value('ALERTS{alertname="CredrotdRotationStuck"}') is None,
              "a rotation within its grace is not stuck")
        out, _ = proc.communicate(timeout=GRACE + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    OUTPUTS.append(("credrotd --once --profile ok", out))
    check(proc.returncode == 0, f"ok's rotation succeeded: {proc.returncode}\n{out}")

    prom.wait_value("credrotd_rotations_total" + sel("ok", result="succeeded"), lambda v: v == 1,
                    "ok's success counted")
    # The phase series go with the rotation (Prometheus marks them stale).
    prom.wait_value("count(credrotd_rotation_phase" + sel("ok") + ") or vector(0)",
                    lambda v: v == 0, "ok's phase series gone")
    check(prom.value("credrotd_rotation_running" + sel("ok")) == 0, "ok is no longer running")
    age = prom.value("credrotd_key_age_seconds" + sel("ok"))
    check(age is not None and GRACE <= age < time.time() - started + 1,
          f"ok's key is as old as its rotation: {age}")
    success = prom.value("credrotd_last_success_timestamp_seconds" + sel("ok"))
    check(started <= success <= time.time(), f"ok's last success is now: {success}")
    due = prom.value("credrotd_next_due_timestamp_seconds" + sel("ok"))
    check(success + 30 * 86400 <= due <= success + 30 * 86400 + 2 * 3600 + 1,
          f"ok is due in 30 days + jitter: {due - success}")
    check(prom.value("credrotd_last_rotation_result" + sel("ok", result="succeeded")) == 1,
          "ok's last result is succeeded")
    check(prom.value("credrotd_rotation_interval_seconds" + sel("ok")) == 30 * 86400,
          "ok's interval")
    check(prom.value("credrotd_rotation_jitter_seconds" + sel("ok")) == 2 * 3600, "ok's jitter")
    check(prom.value("credrotd_rotation_grace_seconds" + sel("ok")) == GRACE, "ok's grace")
    rgw = backend() == "rgw"
    check(prom.value("credrotd_unconfirmed_revocations" + sel("ok")) == (1 if rgw else 0),
          "ok's old key: still accepted from RGW's cache when deleted" if rgw else
          "ok's old key: refused by Swift as soon as it was deleted")
    check(prom.value("credrotd_unconfirmed_revocations" + sel("bad")) == 0,
          "bad deleted no old key")
    for profile in ("ok", "bad"):
        check(prom.value("credrotd_candidate_keys" + sel(profile)) == 0,
              f"{profile}: no candidate key")
    if rgw:
        # Pending for its 30 minutes (RGW's cache lasts 5): not firing.
        prom.wait_value('ALERTS{alertname="CredrotdRevocationUnconfirmed",profile="ok",'
                        'alertstate="pending"}', lambda v: v == 1,
                        "CredrotdRevocationUnconfirmed pending for ok")
    info = prom.query("credrotd_info")
    check(len(info) == 1 and info[0][0]["instance"] == prom.instance,
          f"credrotd_info from node_exporter's instance: {info}")

    # node_exporter's own series about the file, which the stale-file alert reads.
    mtime = prom.wait_value(f'node_textfile_mtime_seconds{{file="{metrics}"}}',
                            lambda v: abs(v - metrics.stat().st_mtime) < 1,
                            "the textfile's mtime")
    check(prom.value("node_textfile_scrape_error") == 0, "node_exporter read the file")
    check(prom.value('ALERTS{alertname="CredrotdMetricsStale"}') is None,
          f"a file written {time.time() - mtime:.0f} s ago is not stale")
    for alert in ("CredrotdKeyTooOld", "CredrotdRevocationUnconfirmed"):
        check(prom.value(f'ALERTS{{alertname="{alert}",alertstate="firing"}}') is None,
              f"{alert} is not firing")
    check(prom.value('ALERTS{alertname="CredrotdKeyTooOld"}') is None, "no key is too old")

    # Every query of the shipped dashboard, with its variables set, is valid PromQL.
    dashboard = json.loads((SOURCE_DIR / "monitoring" / "credrotd-dashboard.json").read_text())
    queries = 0
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = (target["expr"].replace("$instance", ".*").replace("$profile", ".*")
                    .replace("$__rate_interval", "1m"))
            result = prom.query(expr)
            queries += 1
            if panel["title"] == "Key age":
                check({m["profile"] for m, _ in result} == {"ok", "bad"},
                      f"Key age panel: {result}")
    print(f"Prometheus answered {queries} dashboard queries")


def idle_daemon(prom, conf, metrics, work):
    """The daemon with nothing due rewrites the file every minute: its mtime, as node_exporter
    reports it, moves on, and the key age with it."""
    before = metrics.stat().st_mtime
    age_before = prom.value('credrotd_key_age_seconds{profile="ok"}')
    bus = PrivateBus(work)
    daemon = Daemon(conf, work, clean_env(**bus.env()))
    try:
        first = wait_for(lambda: metrics.stat().st_mtime > before and metrics.stat().st_mtime,
                         15, "the daemon's first write of the metrics file")
        # Nothing is due (ok in 30 days, bad after its failure backoff): only the refresh
        # writes the file again.
        second = wait_for(lambda: metrics.stat().st_mtime >= first + 50 and metrics.stat().st_mtime,
                          80, "the daemon's rewrite a minute later", every=0.5)
        check(second - first < 70, f"rewritten {second - first:.1f} s after the first write")
        prom.wait_value(f'node_textfile_mtime_seconds{{file="{metrics}"}}',
                        lambda v: v >= second - 1, "node_exporter's mtime of the rewrite")
        age = prom.wait_value('credrotd_key_age_seconds{profile="ok"}',
                              lambda v: v >= age_before + 50, "ok's key age moving on")
        check(prom.value('credrotd_rotation_running{profile="ok"}') == 0, "nothing ran")
        check(prom.value('ALERTS{alertname="CredrotdMetricsStale"}') is None, "not stale")
        print(f"idle daemon: rewritten {second - first:.1f} s after its first write; "
              f"ok's key age {age_before:.0f} s -> {age:.0f} s")
        daemon.signal(signal.SIGTERM)
        check(daemon.wait(15) == 0, f"the daemon stops on SIGTERM:\n{daemon.text()}")
    finally:
        daemon.stop()
        bus.stop()


if __name__ == "__main__":
    main()
