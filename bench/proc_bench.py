#!/usr/bin/env python3
"""proc_bench.py SPEC.json — wall time and peak RSS of whole processes.

Used by bench/model_roundtrip.sh and bench/run_3turn.sh (GNU time may be
absent). SPEC is a JSON object:

  {"runs": 50, "warmup": 3, "baseline": "curl …", "rss_exec": "BUILD/bench/rss_exec",
   "cases": [{"name": "venom run …",
              "cmds": [["/path/venom", "run", "…"]],   # run one after another
              "env": {"VENOM_HOME": "…"},              # added to the environment
              "fresh_cwd": "/tmp/x",                   # a new empty dir per run under it (else: cwd)
              "expect": "text"}]}                      # each run's stdout (all cmds) must contain it

Each round runs every case once, in order (interleaved, so drift hits all
rows alike), after `warmup` rounds that are not counted. A case runs under
bench/rss_exec (a small C program; Linux carries the parent's RSS high-water
mark into a forked or vforked child's ru_maxrss across exec, so children of
this Python would all read >= 13 MiB): its wall time is from the first fork
to the last child reaped (CLOCK_MONOTONIC), its peak RSS the largest
ru_maxrss of its children, each child's own. A child that exits non-zero or an
output without `expect` stops the benchmark (exit 1): a broken run is not a
timing. Prints one row per case: median and p90 wall ms, median CPU ms
(user + system of the children: robust to waiting for a CPU on a busy
machine), median and max peak RSS MiB, and the ratios of the medians to the
baseline case.
"""
import json
import os
import sys
import tempfile

RSS_EXEC = None  # the spec's "rss_exec": BUILD/bench/rss_exec


def pct(xs, p):
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(p * len(s) + 0.999999) - 1))
    return s[k]


def run_case(case, env, outdir):
    cwd = None
    if case.get("fresh_cwd"):
        cwd = tempfile.mkdtemp(dir=case["fresh_cwd"])
    out_path = os.path.join(outdir, "stdout")
    res_path = os.path.join(outdir, "result")
    argv = [RSS_EXEC, "-o", res_path]
    for k, cmd in enumerate(case["cmds"]):
        argv += ([";;"] if k else []) + cmd
    old = os.getcwd()
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if cwd:
            os.chdir(cwd)
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, fd, 1),
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        ])
        _, status, _ = os.wait4(pid, 0)
    finally:
        os.chdir(old)
        os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("proc_bench: %s: a command exited with %d (stdout in %s)" % (case["name"], code, out_path))
    with open(res_path) as f:
        wall_ns, peak_kib, cpu_ns = map(int, f.read().split())
    if case.get("expect"):
        with open(out_path, "rb") as f:
            if case["expect"].encode() not in f.read():
                sys.exit("proc_bench: %s: the output lacks %r (see %s)" % (case["name"], case["expect"], out_path))
    return wall_ns / 1e6, peak_kib / 1024.0, cpu_ns / 1e6


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: proc_bench.py SPEC.json")
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    global RSS_EXEC
    RSS_EXEC = spec["rss_exec"]
    runs, warmup = int(spec.get("runs", 50)), int(spec.get("warmup", 3))
    cases = spec["cases"]
    envs = []
    for c in cases:
        e = dict(os.environ)
        e.update(c.get("env", {}))
        envs.append(e)
    outdir = tempfile.mkdtemp(prefix="proc_bench.")
    wall = [[] for _ in cases]
    rss = [[] for _ in cases]
    cpu = [[] for _ in cases]
    for r in range(warmup + runs):
        for i, c in enumerate(cases):
            w, m, u = run_case(c, envs[i], outdir)
            if r >= warmup:
                wall[i].append(w)
                rss[i].append(m)
                cpu[i].append(u)
    base = next((i for i, c in enumerate(cases) if c["name"] == spec.get("baseline")), 0)
    bw, bm = pct(wall[base], 0.5), pct(rss[base], 0.5)
    print("%-42s %9s %9s %8s %8s %8s %6s %6s" % ("case (%d runs each)" % runs, "wall p50", "wall p90",
                                              "CPU p50", "RSS p50", "RSS max", "wall", "RSS"))
    print("%-42s %9s %9s %8s %8s %8s %6s %6s" % ("", "ms", "ms", "ms", "MiB", "MiB", "ratio", "ratio"))
    res = {}
    for i, c in enumerate(cases):
        w50, w90, m50, mmax = pct(wall[i], 0.5), pct(wall[i], 0.9), pct(rss[i], 0.5), max(rss[i])
        u50 = pct(cpu[i], 0.5)
        print("%-42s %9.2f %9.2f %8.2f %8.2f %8.2f %6.2f %6.2f" % (c["name"], w50, w90, u50, m50, mmax,
                                                                  w50 / bw, m50 / bm))
        res[c["name"]] = {"wall_p50": w50, "wall_p90": w90, "cpu_p50": u50, "rss_p50": m50, "rss_max": mmax}
    if spec.get("result"):
        with open(spec["result"], "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
