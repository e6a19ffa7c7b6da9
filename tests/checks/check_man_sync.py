#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The man pages say what the code does.

credrotd(8): every option `credrotd --help` prints is in OPTIONS with the same description
and in SYNOPSIS, and OPTIONS has no other option; EXIT STATUS lists exactly the values of the
Exit enum of daemon/credrotd.cpp; every MESSAGE_ID and CREDROTD_* field of
src/service/log.cpp is in LOGGING.
credrotd.toml(5): each key table of src/config/config_file.cpp (k_daemon_keys,
k_setting_keys, k_auth_keys, k_consumer_keys) matches the keys described in its section, and
every choice the loader accepts (k_*_names) is named in the page.

Usage: check_man_sync.py --source ROOT --man-dir DIR --credrotd BINARY
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


def parse_help(binary):
    """[(short or None, long, description)] from CLI11's --help."""
    out = subprocess.run([binary, "--help"], check=True, capture_output=True, text=True).stdout
    options = []
    for line in out.splitlines():
        m = re.match(r"^  (?:(-\w),)?(--[\w-]+)(?: [A-Z]+(?: \.\.\.)?)?\s{2,}(\S.*)$", line)
        if m:
            options.append((m.group(1), m.group(2), m.group(3).strip()))
    if not options:
        problem(f"{binary} --help: no option found; did the help format change?")
    return options


def cpp_array(source, name):
    """The string literals of `std::array<std::string_view, N> name{...}`; checks N."""
    m = re.search(r"std::array<std::string_view,\s*(\d+)>\s+" + name + r"\s*\{(.*?)\};", source,
                  re.S)
    if not m:
        problem(f"config_file.cpp: cannot find {name}")
        return []
    values = re.findall(r'"([^"]*)"', m.group(2))
    if len(values) != int(m.group(1)):
        problem(f"config_file.cpp: {name} declares {m.group(1)} entries, parsed {len(values)}")
    return values


def setting_keys(source):
    """The keys of k_setting_keys, whose entries are {"name", parser}."""
    m = re.search(r"std::array<SettingKey,\s*(\d+)>\s+k_setting_keys\{\{(.*?)\n\}\};", source, re.S)
    if not m:
        problem("config_file.cpp: cannot find k_setting_keys")
        return []
    keys = re.findall(r'^\s{4}\{"(\w+)",', m.group(2), re.M)
    if len(keys) != int(m.group(1)):
        problem(f"config_file.cpp: k_setting_keys declares {m.group(1)} entries, "
                f"parsed {len(keys)}")
    return keys


def compare(what, code, page):
    for key in sorted(set(code) - set(page)):
        problem(f"{what}: `{key}` is in the code but not in the page")
    for key in sorted(set(page) - set(code)):
        problem(f"{what}: `{key}` is in the page but not in the code")


def check_credrotd(root, man_dir, binary):
    page = man_dir / "credrotd.8"
    roff = roff_sections(page.read_text())
    text = rendered_sections(render(page))
    for needed in ("OPTIONS", "SYNOPSIS", "EXIT STATUS", "LOGGING"):
        if needed not in text:
            problem(f"credrotd.8: no {needed} section")
            return
    options = normalize(text["OPTIONS"])
    synopsis = normalize(text["SYNOPSIS"])
    helped = parse_help(binary)
    for short, long, description in helped:
        tag = f"{short}, {long}" if short else long
        if not re.search(r"(^|\s)" + re.escape(tag) + r"(\s|$)", options):
            problem(f"credrotd.8 OPTIONS: no `{tag}`")
        if normalize(description) not in options:
            problem(f"credrotd.8 OPTIONS: the description of {long} differs from --help: "
                    f"`{description}`")
        if not re.search(r"[\[ |]" + re.escape(long) + r"[\] |]", " " + synopsis + " ") and not (
                short and re.search(r"[\[ |]" + re.escape(short) + r"[\] |]", " " + synopsis + " ")):
            problem(f"credrotd.8 SYNOPSIS: no {long}")
    page_options = set(re.findall(r"(?m)^ {7}(?:-\w, )?(--[\w-]+)", text["OPTIONS"]))
    compare("credrotd.8 OPTIONS vs credrotd --help", [o[1] for o in helped], page_options)

    daemon = (root / "daemon/credrotd.cpp").read_text()
    enum = re.search(r"enum Exit : int \{(.*?)\};", daemon, re.S)
    if not enum:
        problem("daemon/credrotd.cpp: no `enum Exit : int {...}`")
    else:
        codes = re.findall(r"exit_\w+ = (\d+)", enum.group(1))
        listed = re.findall(r"(?m)^ {7}(\d+)\s", text["EXIT STATUS"])
        compare("credrotd.8 EXIT STATUS vs enum Exit", codes, listed)

    log = (root / "src/service/log.cpp").read_text()
    ids = set(re.findall(r'"([0-9a-f]{32})"', log))
    fields = set(re.findall(r'"(CREDROTD_[A-Z_]+)="', log))
    if not ids or not fields:
        problem("src/service/log.cpp: no MESSAGE_ID or CREDROTD_* field found")
    for item in sorted(ids | fields):
        if item not in text["LOGGING"]:
            problem(f"credrotd.8 LOGGING: no {item}")
    return len(helped), len(ids)


def check_toml(root, man_dir):
    page = man_dir / "credrotd.toml.5"
    roff = roff_sections(page.read_text())
    rendered = render(page)
    source = (root / "src/config/config_file.cpp").read_text()
    tables = {
        "[daemon]": cpp_array(source, "k_daemon_keys"),
        "[profile.NAME]": setting_keys(source),
        "[profile.NAME.auth]": cpp_array(source, "k_auth_keys"),
        "[[profile.NAME.consumer]]": cpp_array(source, "k_consumer_keys"),
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--man-dir", type=Path, required=True)
    parser.add_argument("--credrotd", required=True)
    args = parser.parse_args()
    options, ids = check_credrotd(args.source, args.man_dir, args.credrotd)
    keys = check_toml(args.source, args.man_dir)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"man pages match the code: credrotd(8) {options} options, {ids} MESSAGE_IDs; "
          f"credrotd.toml(5) {keys} keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
