#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Runs several keystone-manage commands, independent ones at once, paying Keystone's import once.
"""keystone_manage.py [--done PREFIX] CONFIG CONFIG_DIR STEP [STEP...]

Each STEP is one keystone-manage command line, words separated by blanks; commands joined by
'+' within a STEP run at the same time, STEPs one after the other. Example:
  keystone_manage.py keystone.conf conf.d "db_sync+fernet_setup+credential_setup" bootstrap
CONFIG_DIR (may be empty) replaces oslo.config's default directories, so no keystone.conf.d
under /etc/keystone or ~/.keystone is read.
Each command is keystone-manage's own code (keystone.cmd.cli.main) in a child forked after the
import: importing Keystone costs ~1.4 s, the commands themselves a fraction of that, so four
separate keystone-manage runs took ~8 s where this takes ~3 s. Fresh children also keep each
command's oslo.config state apart. Environment variables (OS_BOOTSTRAP_PASSWORD) pass through.
With --done, creates the empty file PREFIX.N once step N (1, 2...) has succeeded, so that the
caller can start the Keystone server while later steps still run.
Exits with the first failing command's status.
"""
import os
import sys


def run_child(config, config_dir, command):
    from keystone.cmd import cli

    argv = ["keystone-manage", "--config-file", config, "--config-dir", config_dir]
    argv += command.split()
    try:
        cli.main(argv=argv)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        return code
    return 0


def main():
    args = sys.argv[1:]
    done = None
    if args[:1] == ["--done"] and len(args) >= 2:
        done, args = args[1], args[2:]
    if len(args) < 3:
        sys.exit(__doc__)
    config, config_dir = args[0], args[1]
    from keystone.cmd import cli  # noqa: F401 -- imported once, before the forks

    for number, step in enumerate(args[2:], start=1):
        children = {}
        for command in step.split("+"):
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    code = run_child(config, config_dir, command)
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            children[pid] = command
        failed = None
        while children:
            pid, status = os.wait()
            command = children.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if code != 0 and failed is None:
                failed = code
                print("keystone_manage.py: keystone-manage %s failed (%d)" % (command, code),
                      file=sys.stderr)
        if failed is not None:
            sys.exit(failed if failed > 0 else 1)
        if done:
            open("%s.%d" % (done, number), "w").close()


if __name__ == "__main__":
    main()
