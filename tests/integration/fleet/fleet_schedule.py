#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""How interval, jitter and window spread a fleet's rotations, and what that costs Keystone:
simulates --hosts daemons (one profile each) with the due-time rules of src/core/schedule.cpp
(first due: start + U*jitter; after a success: finish + interval + U*jitter; a due time outside
the window moves to the window's next opening) and prints, over the simulated days after the
first --warmup days, the rotations and Keystone requests per day and in the busiest minute.

    fleet_schedule.py [--hosts 1000] [--interval 30d] [--jitter 1h] [--window 02:00-05:00]
                      [--days 730] [--warmup 365] [--install-spread 0s] [--cost 6] [--seed 1]

--install-spread: the hosts start over that span (0: all at the same instant, the worst case
after a mass roll-out). --cost: Keystone requests per rotation (docs/PERFORMANCE.md,
"What a rotation costs Keystone": 6 with the defaults against Swift, tokens included).
Rotations take --duration (default 1s). Times are UTC (the window's local time with offset 0).
"""

import argparse
import collections
import random
import re

DAY = 86400.0


def duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text}")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": DAY}[m[2]]


def window(text):
    if not text:
        return None
    m = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a window: {text}")
    return (int(m[1]) * 60 + int(m[2])) * 60.0, (int(m[3]) * 60 + int(m[4])) % (24 * 60) * 60.0


def fit_window(t, win):
    """src/core/schedule.cpp fit_window(): the earliest time >= t inside the window."""
    if win is None or win[0] == win[1]:
        return t
    start, end = win
    into_day = t % DAY
    minute_start = into_day - into_day % 60
    inside = (minute_start >= start or minute_start < end) if end < start else \
        (start <= minute_start < end)
    if inside:
        return t
    wait = start - into_day if into_day < start else DAY - into_day + start
    return t + wait


def spread_in_window(t, win, fraction):
    """src/core/schedule.cpp spread_in_window(): fit_window(), and a time moved to the
    window's start put `fraction` of the way into it."""
    fitted = fit_window(t, win)
    if fitted == t:
        return t
    length = (win[1] - win[0]) % DAY
    return fitted + fraction * length


def simulate(args, rng):
    per_minute = collections.Counter()
    horizon = args.days * DAY
    for _ in range(args.hosts):
        t0 = rng.uniform(0, args.install_spread) if args.install_spread else 0.0
        u = rng.random()
        due = spread_in_window(t0 + u * args.jitter, args.window, u)
        while due < horizon:
            if due >= args.warmup * DAY:
                per_minute[int(due // 60)] += 1
            finished = due + args.duration
            u = rng.random()
            due = spread_in_window(finished + args.interval + u * args.jitter, args.window, u)
    return per_minute


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--interval", type=duration, default=duration("30d"))
    parser.add_argument("--jitter", type=duration, default=duration("1h"))
    parser.add_argument("--window", type=window, default=None)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--warmup", type=int, default=365)
    parser.add_argument("--install-spread", type=duration, default=0.0)
    parser.add_argument("--duration", type=duration, default=1.0)
    parser.add_argument("--cost", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    per_minute = simulate(args, random.Random(args.seed))
    days = args.days - args.warmup
    per_day = collections.Counter()
    for minute, n in per_minute.items():
        per_day[minute // 1440] += n
    total = sum(per_minute.values())
    busiest_minute, busiest = max(per_minute.items(), key=lambda kv: kv[1]) if per_minute else (0, 0)
    busiest_day = max(per_day.values()) if per_day else 0
    minutes_used = len(per_minute)
    at = busiest_minute % 1440
    print(f"{args.hosts} hosts, interval {args.interval / DAY:g}d, jitter {args.jitter:g}s, "
          f"window {args.window}, install spread {args.install_spread:g}s; days "
          f"{args.warmup}-{args.days}")
    print(f"rotations: {total / days:.1f}/day on average, {busiest_day} on the busiest day; "
          f"busiest minute {busiest} (at {at // 60:02d}:{at % 60:02d}); "
          f"{minutes_used} distinct minutes with a rotation")
    print(f"Keystone at {args.cost:g} requests per rotation: {total / days * args.cost:.0f}/day "
          f"on average, {busiest_day * args.cost:.0f} on the busiest day, "
          f"{busiest * args.cost:.0f} in the busiest minute")


if __name__ == "__main__":
    main()
