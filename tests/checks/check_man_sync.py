#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The man pages say what the code does.

credrotd(8): every option `credrotd --help` prints is in OPTIONS with the same description
and in SYNOPSIS, and OPTIONS has no other option; EXIT STATUS lists exactly the values of the
Exit enum of src/app/app.hpp; every MESSAGE_ID and CREDROTD_* field of
src/systemd/log.cpp is in LOGGING.
Its D-BUS API section names every method, signal and property of the interface XML, every key
of the dictionaries src/dbus/manager.cpp sends, and every error name.
credrotd.toml(5): each key table of src/config/config_*.cpp (k_daemon_keys,
k_setting_keys, k_auth_keys, k_consumer_keys) matches the keys described in its section, and
every choice the loader accepts (k_*_names) is named in the page.
credrotctl(1): every global option of `credrotctl --help` is in OPTIONS with the same
description; every command is in COMMANDS and SYNOPSIS with its `--help` description, and its
options with theirs; COMMANDS and OPTIONS name nothing else; EXIT STATUS lists exactly the
Exit enum of src/ctl/ctl.hpp.

Usage: check_man_sync.py --source ROOT --man-dir DIR --credrotd BINARY --credrotctl BINARY
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

problems = []


def problem(text):
    problems.append(text)


def render(page):
    """The page as plain ASCII text: no hyphenation, no wrapping, no overstriking."""
    out = subprocess.run(["groff", "-man", "-Tascii", "-rLL=2000n", "-rHY=0", str(page)],
                         check=True, capture_output=True, text=True).stdout
    return subprocess.run(["col", "-bx"], input=out, check=True, capture_output=True,
                          text=True).stdout


def rendered_sections(text):
    """{heading: body} of rendered text; headings start in column 0."""
    sections, name = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            name = line.strip()
            sections[name] = []
        elif name is not None:
            sections[name].append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def roff_sections(source):
    """{heading: [lines]} of a roff source, split at .SH (font escapes removed from names)."""
    sections, name = {}, None
    for line in source.splitlines():
        if line.startswith(".SH "):
            name = re.sub(r"\\f[BIRP]", "", line[4:]).strip().strip('"')
            sections[name] = []
        elif name is not None:
            sections[name].append(line)
    return sections


def tp_tags(lines):
    """The words of each .TP tag line (the line after .TP), e.g. `.BR a ", " b` -> [a, b];
    not those of lists nested in .RS/.RE (the values of `type`)."""
    tags = []
    depth = 0
    for i, line in enumerate(lines[:-1]):
        depth += line.startswith(".RS") - line.startswith(".RE")
        if depth == 0 and line.strip() == ".TP":
            tag = re.sub(r'^\.[A-Z]+\s*', "", lines[i + 1])
            tag = re.sub(r'"[^"]*"', " ", tag)
            tags.extend(re.findall(r"[A-Za-z0-9_]+", tag))
    return tags


def normalize(text):
    return " ".join(text.split())


def parse_help(command):
    """([(short or None, long, description)], {subcommand: description}) from CLI11's --help.
    CLI11 puts the description of a long option on the next line."""
    out = subprocess.run(command + ["--help"], check=True, capture_output=True, text=True).stdout
    options, subcommands = [], {}
    block = None
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line and not line[0].isspace():
            block = line.rstrip(":")
            continue
        if block == "Options":
            m = re.match(r"^  (?:(-\w),)?(--[\w-]+)(?: [A-Z:]+(?: \.\.\.)?)?(?:\s{2,}(\S.*))?$", line)
            if m:
                description = m.group(3)
                if description is None and i + 1 < len(lines):
                    description = lines[i + 1]
                options.append((m.group(1), m.group(2), description.strip()))
        elif block == "Subcommands":
            m = re.match(r"^  ([a-z][\w-]*)\s{2,}(\S.*)$", line)
            if m:
                subcommands[m.group(1)] = m.group(2).strip()
    if not options:
        problem(f"{' '.join(command)} --help: no option found; did the help format change?")
    return options, subcommands


def check_options(page, section, text, helped, indent=7):
    """Each option in `helped` is a tag of `text` (the rendered section) with its description."""
    flat = normalize(text)
    for short, long, description in helped:
        tag = f"{short}, {long}" if short else long
        if not re.search(r"(?m)^ {" + str(indent) + r"}" + re.escape(tag) + r"(\s|$)", text):
            problem(f"{page} {section}: no `{tag}`")
        if normalize(description) not in flat:
            problem(f"{page} {section}: the description of {long} differs from --help: "
                    f"`{description}`")


def exit_enum(path):
    enum = re.search(r"enum Exit : int \{(.*?)\};", path.read_text(), re.S)
    if not enum:
        problem(f"{path}: no `enum Exit : int {{...}}`")
        return []
    return re.findall(r"exit_\w+ = (\d+)", enum.group(1))


def cpp_array(source, name):
    """The string literals of `std::array<std::string_view, N> name{...}`; checks N."""
    m = re.search(r"std::array<std::string_view,\s*(\d+)>\s+" + name + r"\s*\{(.*?)\};", source,
                  re.S)
    if not m:
        problem(f"src/config: cannot find {name}")
        return []
    values = re.findall(r'"([^"]*)"', m.group(2))
    if len(values) != int(m.group(1)):
        problem(f"src/config: {name} declares {m.group(1)} entries, parsed {len(values)}")
    return values


def key_table(source, name):
    """The keys of a key table `std::array<XKey, N> name{{...}}`, whose entries are
    {"name", handler}; checks N."""
    m = re.search(r"std::array<\w+,\s*(\d+)>\s+" + name + r"\{\{(.*?)\n\}\};", source, re.S)
    if not m:
        problem(f"src/config: cannot find {name}")
        return []
    keys = re.findall(r'^\s{4}\{"(\w+)",', m.group(2), re.M)
    if len(keys) != int(m.group(1)):
        problem(f"src/config: {name} declares {m.group(1)} entries, parsed {len(keys)}")
    return keys


def compare(what, code, page):
    for key in sorted(set(code) - set(page)):
        problem(f"{what}: `{key}` is in the code but not in the page")
    for key in sorted(set(page) - set(code)):
        problem(f"{what}: `{key}` is in the page but not in the code")


def check_credrotd(root, man_dir, binary):
    page = man_dir / "credrotd.8"
    text = rendered_sections(render(page))
    for needed in ("OPTIONS", "SYNOPSIS", "EXIT STATUS", "LOGGING"):
        if needed not in text:
            problem(f"credrotd.8: no {needed} section")
            return 0, 0, 0
    synopsis = " " + normalize(text["SYNOPSIS"]) + " "
    helped, _ = parse_help([binary])
    check_options("credrotd.8", "OPTIONS", text["OPTIONS"], helped)
    for short, long, _ in helped:
        if not re.search(r"[\[ |]" + re.escape(long) + r"[\] |]", synopsis) and not (
                short and re.search(r"[\[ |]" + re.escape(short) + r"[\] |]", synopsis)):
            problem(f"credrotd.8 SYNOPSIS: no {long}")
    page_options = set(re.findall(r"(?m)^ {7}(?:-\w, )?(--[\w-]+)", text["OPTIONS"]))
    compare("credrotd.8 OPTIONS vs credrotd --help", [o[1] for o in helped], page_options)
    listed = re.findall(r"(?m)^ {7}(\d+)\s", text["EXIT STATUS"])
    compare("credrotd.8 EXIT STATUS vs enum Exit", exit_enum(root / "src/app/app.hpp"), listed)

    log = (root / "src/systemd/log.cpp").read_text()
    ids = set(re.findall(r'"([0-9a-f]{32})"', log))
    fields = set(re.findall(r'"(CREDROTD_[A-Z_]+)="', log))
    if not ids or not fields:
        problem("src/systemd/log.cpp: no MESSAGE_ID or CREDROTD_* field found")
    for item in sorted(ids | fields):
        if item not in text["LOGGING"]:
            problem(f"credrotd.8 LOGGING: no {item}")

    # The D-Bus API: the interface XML, the dictionaries the daemon sends, the error names.
    if "D-BUS API" not in text:
        problem("credrotd.8: no D-BUS API section")
        return len(helped), len(ids), 0
    dbus = text["D-BUS API"]
    xml = (root / "src/dbus/io.github.credrotd.Manager1.xml").read_text()
    members = re.findall(r'<(?:method|signal|property) name="(\w+)"', xml)
    keys = re.findall(r'\bd\["(\w+)"\]', (root / "src/dbus/manager.cpp").read_text())
    codes = re.search(r"k_codes = \{(.*?)\};", (root / "src/dbus/api.cpp").read_text(),
                      re.S)
    errors = ["AccessDenied"]
    if codes:
        errors += ["".join(w.capitalize() for w in c.split("_"))
                   for c in re.findall(r"Errc::(\w+)", codes.group(1))]
    if not members or not keys or len(errors) < 2:
        problem("cannot read the D-Bus members, dictionary keys or error codes from the source")
    for item in members + keys + errors:
        if not re.search(r"\b" + re.escape(item) + r"\b", dbus):
            problem(f"credrotd.8 D-BUS API: no {item}")
    return len(helped), len(ids), len(set(members + keys + errors))


def check_toml(root, man_dir):
    page = man_dir / "credrotd.toml.5"
    roff = roff_sections(page.read_text())
    rendered = render(page)
    source = "".join(p.read_text() for p in sorted((root / "src/config").glob("config_*.cpp")))
    tables = {
        "[daemon]": key_table(source, "k_daemon_keys"),
        "[profile.NAME]": key_table(source, "k_setting_keys"),
        "[profile.NAME.auth]": key_table(source, "k_auth_keys"),
        "[[profile.NAME.consumer]]": key_table(source, "k_consumer_keys"),
    }
    count = 0
    for section, keys in tables.items():
        if section not in roff:
            problem(f"credrotd.toml.5: no section {section}")
            continue
        compare(f"credrotd.toml.5 {section}", keys, tp_tags(roff[section]))
        count += len(keys)
    if "[defaults]" not in roff:
        problem("credrotd.toml.5: no section [defaults]")
    # Every choice the loader accepts is named, quoted as in TOML.
    for name in re.findall(r"std::array<std::string_view,\s*\d+>\s+(k_\w+_names)\b", source):
        for value in cpp_array(source, name):
            if f'"{value}"' not in rendered:
                problem(f'credrotd.toml.5: the {name} value "{value}" is not named')
    return count


def check_credrotctl(root, man_dir, binary):
    page = man_dir / "credrotctl.1"
    text = rendered_sections(render(page))
    for needed in ("SYNOPSIS", "OPTIONS", "COMMANDS", "EXIT STATUS"):
        if needed not in text:
            problem(f"credrotctl.1: no {needed} section")
            return 0, 0
    synopsis = " " + normalize(text["SYNOPSIS"]) + " "
    helped, subcommands = parse_help([binary])
    if not subcommands:
        problem("credrotctl --help: no subcommand found")
    check_options("credrotctl.1", "OPTIONS", text["OPTIONS"], helped)
    page_options = set(re.findall(r"(?m)^ {7}(?:-\w, )?(--[\w-]+)", text["OPTIONS"]))
    compare("credrotctl.1 OPTIONS vs credrotctl --help", [o[1] for o in helped], page_options)
    commands = text["COMMANDS"]
    flat = normalize(commands)
    sub_options = set()
    for name, description in subcommands.items():
        if not re.search(r"(?m)^ {7}" + re.escape(name) + r"(\s|$)", commands):
            problem(f"credrotctl.1 COMMANDS: no `{name}`")
        if normalize(description) not in flat:
            problem(f"credrotctl.1 COMMANDS: the description of {name} differs from --help: "
                    f"`{description}`")
        if f" {name} " not in synopsis:
            problem(f"credrotctl.1 SYNOPSIS: no {name}")
        options, _ = parse_help([binary, name])
        options = [o for o in options if o[1] != "--help"]
        check_options("credrotctl.1", f"COMMANDS {name}", commands, options, indent=14)
        for short, long, _ in options:
            sub_options.add(long)
            if f" {long} " not in synopsis.replace("[", " ").replace("]", " ") and not (
                    short and f" {short} " in synopsis.replace("[", " ")):
                problem(f"credrotctl.1 SYNOPSIS: no {long} for {name}")
    compare("credrotctl.1 COMMANDS vs credrotctl --help", subcommands,
            set(re.findall(r"(?m)^ {7}([a-z][\w-]*)", commands)))
    compare("credrotctl.1 COMMANDS options vs credrotctl COMMAND --help", sub_options,
            set(re.findall(r"(?m)^ {14}(?:-\w, )?(--[\w-]+)", commands)))
    listed = re.findall(r"(?m)^ {7}(\d+)\s", text["EXIT STATUS"])
    compare("credrotctl.1 EXIT STATUS vs enum Exit", exit_enum(root / "src/ctl/ctl.hpp"),
            listed)
    return len(subcommands), len(helped) + len(sub_options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--man-dir", type=Path, required=True)
    parser.add_argument("--credrotd", required=True)
    parser.add_argument("--credrotctl", required=True)
    args = parser.parse_args()
    options, ids, dbus = check_credrotd(args.source, args.man_dir, args.credrotd)
    keys = check_toml(args.source, args.man_dir)
    commands, ctl_options = check_credrotctl(args.source, args.man_dir, args.credrotctl)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"man pages match the code: credrotd(8) {options} options, {ids} MESSAGE_IDs, "
          f"{dbus} D-Bus names; credrotd.toml(5) {keys} keys; credrotctl(1) {commands} commands, "
          f"{ctl_options} options")
    return 0


if __name__ == "__main__":
    sys.exit(main())
