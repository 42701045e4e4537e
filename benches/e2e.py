#!/usr/bin/env python3
"""End to end over loopback: requests per second, p99 latency and server CPU per request.

Starts one `e2e_server` per stack (see benches/support/mod.rs), pinned to CPU 0, and drives
each in turn with wrk pinned to CPU 1, in rounds whose order rotates, so every stack sees the
same state of the machine. Prints each run, then per stack the medians and the paired ratios
(the same round's runs divided, then the median taken).

    apt-get install wrk
    python3 benches/e2e.py                      # 5 rounds of 5 s per stack
    python3 benches/e2e.py --rounds 9 --seconds 8 --connections 32
    python3 benches/e2e.py --post               # 64 KiB uploads instead of page loads

Server CPU comes from /proc/<pid>/stat (user + system time), so it counts the server process
only; the figure per request includes hyper and the kernel's share of the sockets.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

STACKS = ["bare", "floor", "strict", "strict_all", "tower_http", "tower_http_by_name"]
PAIRS = [
    ("strict", "floor"),
    ("strict_all", "floor"),
    ("strict_all", "tower_http"),
    ("strict_all", "tower_http_by_name"),
    ("floor", "bare"),
]
HEADERS = [
    "Host: example.com",
    "Accept: text/html,application/xhtml+xml",
    "Sec-Fetch-Site: same-origin",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
]
POST_LUA = """
wrk.method = "POST"
wrk.path = "/upload"
wrk.body = string.rep("x", 65536)
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Origin"] = "https://example.com"
"""


def server_binary():
    out = subprocess.run(
        ["cargo", "bench", "--bench", "e2e_server", "--no-run"],
        capture_output=True, text=True, check=True,
    )
    match = re.search(r"Executable .*\((.*e2e_server-[0-9a-f]+)\)", out.stderr + out.stdout)
    if not match:
        sys.exit("could not find the e2e_server executable in cargo's output")
    return match.group(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"no server on port {port}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the stat line (proc(5)); after the command
    # name they are at index 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency_us(text):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def run_wrk(port, args, script):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}",
           f"-d{args.seconds}s", "--latency"]
    for header in HEADERS:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", script]
    cmd.append(f"http://127.0.0.1:{port}/")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = latency_us(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"{errors.group(1)} failed responses:\n{out}")
    return requests, rps, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--post", action="store_true")
    args = parser.parse_args()
    for tool in ["wrk", "taskset"]:
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed: apt-get install wrk util-linux")

    binary = server_binary()
    script = None
    if args.post:
        fd, script = tempfile.mkstemp(suffix=".lua")
        os.write(fd, POST_LUA.encode())
        os.close(fd)

    servers = {}
    try:
        for stack in STACKS:
            port = free_port()
            proc = subprocess.Popen(
                ["taskset", "-c", "0", binary, "--serve", stack, "--port", str(port)],
                stdout=subprocess.DEVNULL,
            )
            servers[stack] = (proc, port)
        for _, port in servers.values():
            wait_for(port)

        results = {stack: [] for stack in STACKS}
        for round_ in range(args.rounds):
            order = STACKS[round_ % len(STACKS):] + STACKS[:round_ % len(STACKS)]
            for stack in order:
                proc, port = servers[stack]
                before = cpu_seconds(proc.pid)
                requests, rps, p99 = run_wrk(port, args, script)
                cpu = cpu_seconds(proc.pid) - before
                cpu_us = cpu * 1e6 / requests
                results[stack].append((rps, p99, cpu_us))
                print(f"round {round_ + 1} {stack:<18} {rps:>9.0f} req/s  p99 {p99:>7.0f} us"
                      f"  server CPU {cpu_us:5.2f} us/req  ({requests} requests)")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        if script:
            os.unlink(script)

    what = "POST 64 KiB" if args.post else "GET"
    print(f"\n{what}, {args.rounds} rounds of {args.seconds} s, {args.connections} connections;"
          " medians over rounds")
    print(f"{'stack':<18} {'req/s':>9} {'p99 us':>8} {'CPU us/req':>11} {'CPU over bare':>14}")
    bare_cpu = statistics.median(r[2] for r in results["bare"])
    for stack in STACKS:
        rps = statistics.median(r[0] for r in results[stack])
        p99 = statistics.median(r[1] for r in results[stack])
        cpu = statistics.median(r[2] for r in results[stack])
        print(f"{stack:<18} {rps:>9.0f} {p99:>8.0f} {cpu:>11.2f} {cpu - bare_cpu:>+14.2f}")
    print("\npaired ratios of requests per second (median of per-round ratios)")
    for a, b in PAIRS:
        ratios = [x[0] / y[0] for x, y in zip(results[a], results[b])]
        print(f"{a:>10} / {b:<18} {statistics.median(ratios):.3f}"
              f"  (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
