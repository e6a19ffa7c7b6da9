#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Runs bench_sign and the npm aws4 signer (bench_aws4.js under /usr/bin/node) on the same
request, one after the other, and prints both figures and their ratio.

Usage: /usr/bin/python3 bench/sign/compare_aws4.py [--bench-sign PATH] [--seconds S] [--rounds N]
Fails when the two signers' Authorization headers differ: then they did not sign the same
request. Needs Debian's node-aws4 (and nodejs).
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# bench_sign: "<form> CPU /s best CPU /s median ... (wall: WALL /s best)";
# bench_aws4.js: "<form> (aws4) WALL /s best WALL /s median (wall)   (process CPU: CPU /s best)".
OURS = re.compile(r"^(SigV[24] header)\s+(\d+) /s best.*\(wall:\s+(\d+) /s best\)")
AWS4 = re.compile(r"^(SigV4 header) \(aws4\)\s+(\d+) /s best.*\(process CPU: (\d+) /s best\)")
AUTHORIZATION = re.compile(r"SigV4 Authorization: (.*)$")


def run(command):
    """The command's output lines, each printed as it is read; exits if the command fails."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.exit(f"compare_aws4: {command[0]} failed ({result.returncode}): {result.stderr}")
    return result.stdout.splitlines()


def parse(lines):
    """{form: {"cpu": best rate per CPU-second, "wall": best rate per second}}, Authorization."""
    rates, authorization = {}, None
    for line in lines:
        if match := OURS.match(line):
            rates[match.group(1)] = {"cpu": int(match.group(2)), "wall": int(match.group(3))}
        if match := AWS4.match(line):
            rates[match.group(1)] = {"wall": int(match.group(2)), "cpu": int(match.group(3))}
        if match := AUTHORIZATION.search(line):
            authorization = match.group(1)
    return rates, authorization


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-sign", default="build/bench/bench_sign")
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    timing = ["--seconds", str(args.seconds), "--rounds", str(args.rounds)]

    ours, our_authorization = parse(run([args.bench_sign] + timing))
    theirs, their_authorization = parse(
        run(["/usr/bin/node", os.path.join(HERE, "bench_aws4.js")] + timing))
    if our_authorization is None or our_authorization != their_authorization:
        sys.exit("compare_aws4: the Authorization headers differ: not the same request\n"
                 f"  credrotd: {our_authorization}\n  aws4:     {their_authorization}")
    v4, aws4 = ours["SigV4 header"], theirs["SigV4 header"]
    print("same Authorization header from both signers")
    print(f"SigV4 header, per CPU-second: credrotd {v4['cpu']} /s, aws4 {aws4['cpu']} /s "
          f"(credrotd {v4['cpu'] / aws4['cpu']:.1f}x)")
    print(f"SigV4 header, per second of wall time: credrotd {v4['wall']} /s, aws4 "
          f"{aws4['wall']} /s (credrotd {v4['wall'] / aws4['wall']:.1f}x)")
    print(f"SigV2 header: credrotd {ours['SigV2 header']['cpu']} /s per CPU-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
