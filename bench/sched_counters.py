#!/usr/bin/env python3
"""The scheduler's counters per message, from a net_compare.sh LOG of a SCHEDTRACE run.

    bench/sched_counters.py NET_LOG [OUT.md]

For each gort run in the log (echo or HTTP) it takes the busiest interval between two
consecutive `SCHED` lines (the one with the most goroutine runs: inside the measured window) and
divides each counter's growth over it by the messages (or requests) that the interval carried,
at the run's measured rate. The medians over the repetitions go in one table per scenario. On
a machine without perf, this is where the scheduler's CPU goes: runs and how many of them
changed processor (migrations), thread parks and wakes, polls and how much each found, own-ring
reaps, steal rounds and what the steals took, idle moments.
"""
import re
import statistics
import sys

HEAD = re.compile(r"^### (echo|http) scenario=\w+ conns=(\d+) server=(\S+) rep=(\d+)")
# `migrations` and `stolen` came with 8cb9f02; logs from before it have neither (then 0).
SCHED = re.compile(r"^SCHED (\d+)ms: .* runs=(\d+) (?:migrations=(\d+) )?parks=(\d+) wakes=(\d+) "
                   r"polls=(\d+)/(\d+) ringreaps=(\d+)/(\d+) steals=(\d+)/(\d+) "
                   r"(?:stolen=(\d+) )?idles=(\d+) idlepolled=(\d+) sysmonpolls=(\d+)")
FIELDS = ["runs", "migrations", "parks", "wakes", "polled", "polls", "reaped", "reaps", "steals",
          "steal_rounds", "stolen", "idles", "idlepolled", "sysmonpolls"]
ECHO_RATE = re.compile(r"^RESULT msgs_per_s=([0-9.]+)")
HTTP_RATE = re.compile(r"^Requests/sec:\s+([0-9.]+)")

COLUMNS = [  # (title, function of the per-message dict)
    ("runs", lambda d: d["runs"]),
    ("migrations", lambda d: d["migrations"]),
    ("thread parks", lambda d: d["parks"]),
    ("thread wakes", lambda d: d["wakes"]),
    ("polls", lambda d: d["polls"]),
    ("readied per poll", None),
    ("own-ring reaps", lambda d: d["reaps"]),
    ("steal rounds", lambda d: d["steal_rounds"]),
    ("steals", lambda d: d["steals"]),
    ("stolen", lambda d: d["stolen"]),
    ("P idle", lambda d: d["idles"]),
    ("readied by idle threads", lambda d: d["idlepolled"]),
]


def parse(path):
    runs = []  # (scenario, conns, server, rep, rate, [sched samples])
    cur = None
    for line in open(path, errors="replace"):
        m = HEAD.match(line)
        if m:
            cur = {"scenario": m[1], "conns": int(m[2]), "server": m[3], "rep": int(m[4]),
                   "rate": None, "sched": []}
            runs.append(cur)
            continue
        if cur is None:
            continue
        m = SCHED.match(line)
        if m:
            cur["sched"].append((int(m[1]), dict(zip(FIELDS, (int(v or 0) for v in m.groups()[1:])))))
            continue
        m = (ECHO_RATE if cur["scenario"] == "echo" else HTTP_RATE).match(line)
        if m:
            cur["rate"] = float(m[1])
    return [r for r in runs if r["server"].startswith("gort") and r["rate"] and len(r["sched"]) >= 2]


def per_message(run):
    best = None
    for (t0, a), (t1, b) in zip(run["sched"], run["sched"][1:]):
        if t1 <= t0:
            continue
        if best is None or b["runs"] - a["runs"] > best[2]["runs"] - best[1]["runs"]:
            best = (t1 - t0, a, b)
    ms, a, b = best
    msgs = run["rate"] * ms / 1000.0
    d = {k: (b[k] - a[k]) / msgs for k in FIELDS}
    d["per_poll"] = (b["polled"] - a["polled"]) / (b["polls"] - a["polls"]) if b["polls"] > a["polls"] else 0.0
    return d


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    runs = parse(sys.argv[1])
    groups = {}
    for r in runs:
        groups.setdefault((r["scenario"], r["conns"], r["server"]), []).append(per_message(r))
    out = ["# gort's scheduler counters per message", "",
           f"From `{sys.argv[1]}` (bench/sched_counters.py): medians over the repetitions of each "
           "counter's growth in the busiest schedtrace second, divided by the messages (echo) or "
           "requests (HTTP) of that second at the run's measured rate.", ""]
    if not groups:
        out.append("No gort run with schedtrace lines in the log (run net_compare.sh with SCHEDTRACE=1000 and LOG=...).")
    for sc in ("echo", "http"):
        keys = sorted(k for k in groups if k[0] == sc)
        if not keys:
            continue
        out += [f"## {sc}", "", "| conns | server | reps | " + " | ".join(c for c, _ in COLUMNS) + " |",
                "|---|---|---|" + "---|" * len(COLUMNS)]
        for k in keys:
            ds = groups[k]
            cells = []
            for title, f in COLUMNS:
                vals = [d["per_poll"] for d in ds] if f is None else [f(d) for d in ds]
                cells.append(f"{statistics.median(vals):.3f}")
            out.append(f"| {k[1]} | {k[2]} | {len(ds)} | " + " | ".join(cells) + " |")
        out.append("")
    text = "\n".join(out) + "\n"
    if len(sys.argv) == 3:
        open(sys.argv[2], "w").write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
