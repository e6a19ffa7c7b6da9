# SPDX-License-Identifier: Apache-2.0
"""Checks monitoring/: the Grafana dashboard is valid JSON of the shape Grafana imports, and
every metric name in its queries and in the alert rules is one credrotd writes (the output of
render_metrics_sample) or one node_exporter's textfile collector exposes; that output passes
`promtool check metrics` (the exposition format and Prometheus's naming rules); and the
METRICS section of credrotd(8) and the table of docs/monitoring.md list exactly those series.

Usage: check_monitoring.py --source DIR --sample PROGRAM --promtool PROMTOOL"""

import argparse
import json
import pathlib
import re
import subprocess
import sys

import yaml

# What node_exporter's textfile collector (1.5) adds about the files it reads.
TEXTFILE_COLLECTOR = {"node_textfile_mtime_seconds", "node_textfile_scrape_error"}
METRIC = re.compile(r"\b((?:credrotd|node)_[a-zA-Z0-9_]+)")
VARIABLE = re.compile(r"\$\{?([a-zA-Z_][a-zA-Z0-9_]*)")
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__range", "__interval_ms"}

errors = []


def error(message):
    errors.append(message)
    print("FAIL: " + message, file=sys.stderr)


def written_metrics(sample, promtool):
    text = subprocess.run([sample], check=True, capture_output=True, text=True).stdout
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True)
    if lint.returncode != 0 or lint.stdout.strip() or lint.stderr.strip():
        error(f"promtool check metrics: {lint.returncode} {lint.stdout}{lint.stderr}")
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    if "credrotd_key_age_seconds" not in names:
        error(f"{sample} printed no credrotd_key_age_seconds: {text[:200]!r}")
    return names


def check_names(where, expr, known):
    found = set(METRIC.findall(expr))
    for name in sorted(found - known):
        error(f"{where}: {name} is neither written by credrotd nor by the textfile collector")
    return found


def check_dashboard(path, known):
    try:
        dash = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        error(f"{path}: not valid JSON: {e}")
        return set()
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            error(f"{path}: no {key!r}")
    if dash.get("id") is not None:
        error(f"{path}: id must be null for an importable dashboard")
    defined = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    used = set()
    ids = set()
    exprs = 0
    for panel in dash.get("panels", []):
        where = f"{path.name}: panel {panel.get('title')!r}"
        for key in ("id", "title", "type", "gridPos", "targets"):
            if key not in panel:
                error(f"{where}: no {key!r}")
        if panel.get("id") in ids:
            error(f"{where}: duplicate id {panel.get('id')}")
        ids.add(panel.get("id"))
        refs = [t.get("refId") for t in panel.get("targets", [])]
        if len(set(refs)) != len(refs) or None in refs:
            error(f"{where}: refIds must be set and distinct: {refs}")
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            if not expr:
                error(f"{where}: a target without expr")
            exprs += 1
            used |= check_names(where, expr, known)
            for var in VARIABLE.findall(expr) + VARIABLE.findall(json.dumps(target.get("datasource"))):
                if var not in defined and var not in GRAFANA_VARIABLES:
                    error(f"{where}: ${var} is not a dashboard variable ({sorted(defined)})")
    for var in dash.get("templating", {}).get("list", []):
        query = var.get("definition", "")
        used |= check_names(f"{path.name}: variable {var['name']}", query, known)
    for need in ("credrotd_key_age_seconds", "credrotd_rotations_total"):
        if need not in used:
            error(f"{path.name}: no panel shows {need}")
    print(f"{path.name}: {len(dash.get('panels', []))} panels, {exprs} queries, "
          f"{len(used)} metrics")
    return used


def check_rules(path, known):
    doc = yaml.safe_load(path.read_text())
    used = set()
    alerts = []
    for group in doc["groups"]:
        for rule in group["rules"]:
            alerts.append(rule["alert"])
            used |= check_names(f"{path.name}: {rule['alert']}", rule["expr"], known)
    print(f"{path.name}: {len(alerts)} alerts ({', '.join(alerts)}), {len(used)} metrics")
    return used


def check_documented(path, text, written):
    documented = set(re.findall(r"\b(credrotd_[a-z0-9_]+)", text))
    for name in sorted(written - documented):
        error(f"{path}: does not document {name}")
    for name in sorted(documented - written):
        error(f"{path}: documents {name}, which credrotd does not write")
    print(f"{path}: {len(documented & written)} series documented")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True, type=pathlib.Path)
    parser.add_argument("--sample", required=True)
    parser.add_argument("--promtool", default="/usr/bin/promtool")
    args = parser.parse_args()
    monitoring = args.source / "monitoring"
    known = written_metrics(args.sample, args.promtool) | TEXTFILE_COLLECTOR
    print(f"{len(known - TEXTFILE_COLLECTOR)} credrotd series pass promtool check metrics")
    check_dashboard(monitoring / "credrotd-dashboard.json", known)
    check_rules(monitoring / "credrotd-alerts.yml", known)
    written = known - TEXTFILE_COLLECTOR
    man = (args.source / "man" / "credrotd.8.in").read_text().replace("\\%", "")
    check_documented("man/credrotd.8.in METRICS",
                     man[man.index(".SH METRICS\n"):man.index("\n.SH ", man.index(".SH METRICS\n"))],
                     written)
    doc = (args.source / "docs" / "monitoring.md").read_text()
    table = doc[doc.index("## The series"):doc.index("## The alerts")]
    check_documented("docs/monitoring.md, The series", table, written)
    if errors:
        sys.exit(1)
    print("PASS monitoring: dashboard and alert rules name only written series")


if __name__ == "__main__":
    main()
