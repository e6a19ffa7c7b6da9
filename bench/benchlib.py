# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the benchmarks in bench/: the local cloud (started here or given), the
machine's state, process measurements, statistics, and server time read from the servers'
own logs. Run the benchmarks with Debian's /usr/bin/python3.

The Keystone/consumer helpers of the integration tests (tests/integration/engine/testlib.py)
are reused rather than copied: `testlib` below is that module."""

import atexit
import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SOURCE_DIR / "tests" / "integration" / "engine"))
import testlib  # noqa: E402  (the integration tests' helpers)

STACK_SH = SOURCE_DIR / "tests" / "stack" / "stack.sh"


def default_credrotd():
    return pathlib.Path(os.environ.get("CREDROTD_BINARY_DIR", SOURCE_DIR / "build")) / \
        "daemon" / "credrotd"


def add_common_arguments(parser):
    parser.add_argument("--credrotd", type=pathlib.Path, default=default_credrotd(),
                        help="the credrotd binary (default: build/daemon/credrotd)")
    parser.add_argument("--stack-env", type=pathlib.Path,
                        help="use a running stack (its stack.env) instead of starting one")
    parser.add_argument("--keystone-workers", type=int, default=1,
                        help="uwsgi workers of the Keystone started here (default 1)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (and the stack started here) afterwards")


class Stack:
    """The local cloud: started for this benchmark (stopped at exit), or an existing one."""

    def __init__(self, args):
        self.started = None
        if args.stack_env:
            env_file = args.stack_env
        else:
            self.started = pathlib.Path(tempfile.mkdtemp(prefix="credrotd-bench-stack-"))
            t0 = time.monotonic()
            subprocess.run([str(STACK_SH), "start", str(self.started), "--keystone-workers",
                            str(args.keystone_workers)], check=True, stdout=subprocess.DEVNULL)
            print(f"# stack started in {time.monotonic() - t0:.1f} s: {self.started} "
                  f"({args.keystone_workers} Keystone worker(s))", flush=True)
            if not args.keep:
                atexit.register(self.stop)
            env_file = self.started / "stack.env"
        os.environ["CREDROTD_STACK_ENV"] = str(env_file)
        self.env = testlib.stack()

    def stop(self):
        if self.started:
            subprocess.run([str(STACK_SH), "stop", str(self.started)], check=False,
                           stdout=subprocess.DEVNULL)
            shutil.rmtree(self.started, ignore_errors=True)
            self.started = None


def workdir(name, keep=False, base=None):
    """A fresh work directory (under `base`, e.g. /dev/shm, when given)."""
    if base:
        saved = tempfile.tempdir
        tempfile.tempdir = str(base)
        try:
            w = testlib.Workdir(name)
        finally:
            tempfile.tempdir = saved
    else:
        w = testlib.Workdir(name)
    if not keep:
        atexit.register(w.cleanup)
    return w.path


def load_average():
    return os.getloadavg()


def machine():
    cpu = "?"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} x {cpu}, Linux {platform.release()}"


def build_type(binary):
    """CMAKE_BUILD_TYPE and CREDROTD_FAULT_INJECTION of the build tree holding `binary`."""
    cache = pathlib.Path(binary).resolve().parents[1] / "CMakeCache.txt"
    out = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            for key in ("CMAKE_BUILD_TYPE", "CREDROTD_FAULT_INJECTION"):
                if line.startswith(key + ":"):
                    out[key] = line.split("=", 1)[1]
    return f"{out.get('CMAKE_BUILD_TYPE', '?')}, fault injection {out.get('CREDROTD_FAULT_INJECTION', '?')}"


def git_commit():
    proc = subprocess.run(["git", "-C", str(SOURCE_DIR), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(SOURCE_DIR), "status", "--porcelain", "--", "src",
                            "daemon"], capture_output=True, text=True).stdout.strip()
    return proc.stdout.strip() + (" (src/ modified)" if dirty else "")


def header(title, binary):
    """Prints what is measured, when, on what; makes testlib run `binary` too."""
    testlib.CREDROTD = pathlib.Path(binary)
    print(f"# {title}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, commit {git_commit()}, "
          f"build {build_type(binary)}")
    print(f"# machine: {machine()}; load average {'/'.join(f'{x:.2f}' for x in load_average())}",
          flush=True)


def summary(values):
    """'median [min-max]' of a list of numbers."""
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def quartiles(values):
    if len(values) < 4:
        return min(values), statistics.median(values), max(values)
    q = statistics.quantiles(values, n=4)
    return q[0], q[1], q[2]


def run_measured(argv, env, timeout=600, peak_rss=False):
    """Runs argv; returns (returncode, stdout, stderr, wall seconds, cpu seconds, peak RSS KiB).
    CPU time comes from the child's rusage (wait4). Its ru_maxrss is not the program's own:
    Linux starts a child's high-water mark at its parent's (fork copies this Python process;
    with vfork the exec inherits the shared mm's). So with peak_rss=True the program runs
    under /usr/bin/time, a small C program whose forked child starts small, and the peak RSS
    is what time reports (its exec adds ~1 ms to the wall time); otherwise it is None."""
    rss_file = None
    if peak_rss:
        rss_file = tempfile.NamedTemporaryFile(prefix="credrotd-bench-rss-")
        argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + list(argv)
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
               (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
    env_list = {str(k): str(v) for k, v in env.items()}
    t0 = time.monotonic()
    pid = os.posix_spawn(str(argv[0]), [str(a) for a in argv], env_list, file_actions=actions)
    deadline = t0 + timeout
    while True:
        waited, status, usage = os.wait4(pid, os.WNOHANG)
        if waited:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            waited, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.0005)
    wall = time.monotonic() - t0
    returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    stdout = out.read().decode(errors="replace")
    stderr = err.read().decode(errors="replace")
    testlib.OUTPUTS.append(("$ " + " ".join(map(str, argv)), stdout + stderr))
    peak = None
    if rss_file is not None:
        text = pathlib.Path(rss_file.name).read_text().split()
        peak = int(text[-1]) if text and text[-1].isdigit() else None
        rss_file.close()
    return returncode, stdout, stderr, wall, usage.ru_utime + usage.ru_stime, peak


STATS = re.compile(r"stats: (\d+) HTTP calls, (\d+) requests, ([\d.]+) ms in servers, "
                   r"([\d.]+) ms in calls")


def parse_stats(stdout):
    """(calls, requests, server ms, call ms) from credrotd --once --stats."""
    m = STATS.search(stdout)
    if not m:
        return None
    return int(m[1]), int(m[2]), float(m[3]), float(m[4])


class ServerLogs:
    """Server time as the servers themselves log it, for the requests made between mark() and
    read(): Keystone's uwsgi lines ("... in N msecs") and the Swift proxy's request time. The
    Keystone calls Swift makes for an S3 request (/v3/s3tokens, the service user's tokens) are
    part of that S3 request's time and are not counted twice. Only meaningful when nothing else
    uses the stack meanwhile (a stack of the benchmark's own)."""

    UWSGI = re.compile(r"\] (\w+) (\S+) => generated \d+ bytes in (\d+) msecs")

    def __init__(self, st):
        logs = pathlib.Path(st["STACK_LOGS"])
        self.keystone = logs / "keystone.log"
        self.proxy = logs / "swift-proxy.log"
        self.offsets = None

    def mark(self):
        self.offsets = (self._size(self.keystone), self._size(self.proxy))

    @staticmethod
    def _size(path):
        try:
            return path.stat().st_size
        except OSError:
            return 0

    def _new_lines(self, path, offset, settle):
        # The servers write their log line right after answering: wait until the file stops
        # growing (bounded) so the last request's line is in.
        deadline = time.monotonic() + settle
        size = self._size(path)
        while time.monotonic() < deadline:
            time.sleep(0.01)
            now = self._size(path)
            if now == size:
                break
            size = now
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace").splitlines()

    def entries(self, settle=0.05):
        """([(method, path, ms)] of Keystone, [(status, agent, ms)] of the Swift proxy) since
        mark(), in log order, without the calls Swift makes to Keystone for an S3 request."""
        keystone, s3 = [], []
        for line in self._new_lines(self.keystone, self.offsets[0], settle):
            m = self.UWSGI.search(line)
            if not m:
                continue
            method, path, ms = m[1], m[2], int(m[3])
            if path.startswith("/v3/s3tokens") or path.startswith("/v3/ec2tokens"):
                continue  # inside an S3 request's time
            if method == "GET" and path.startswith("/v3/auth/tokens"):
                continue  # Swift's authtoken validating its service token
            keystone.append((method, path, ms))
        for line in self._new_lines(self.proxy, self.offsets[1], settle):
            if not line.startswith("proxy-server:"):
                continue
            fields = line.split()
            # ... status - agent - - bytes - txid - request_time - - start end -
            try:
                s3.append((int(fields[-15]), fields[-13], float(fields[-6]) * 1000))
            except (ValueError, IndexError):
                continue
        return keystone, s3

    def read(self, settle=0.05):
        """(keystone ms, keystone requests, s3 ms, s3 requests) since mark()."""
        keystone, s3 = self.entries(settle)
        return (sum(e[2] for e in keystone), len(keystone), sum(e[2] for e in s3), len(s3))


def rss_kib(pid):
    """VmRSS of a running process, KiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def hwm_kib(pid):
    """VmHWM (peak RSS) of a running process, KiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def context_switches(pid):
    """(voluntary, involuntary) context switches of every thread of a running process."""
    vol = invol = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                vol += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                invol += int(line.split()[1])
    return vol, invol


def cpu_seconds(pid):
    """utime + stime of a running process (all threads), seconds."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
