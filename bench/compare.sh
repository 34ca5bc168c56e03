#!/usr/bin/env bash
# Runs the macro workloads on gort (gort_macro), Go 1.19 (bench/peers/go) and, when it was built,
# Boost.Fiber (bench/peers/fiber -> BUILD_DIR/bench/peers/fiber/fiber_peers) side by side,
# interleaved (gort, go, fiber, gort, go, fiber, ...), and writes a markdown report with medians,
# ratios and the DESIGN §7 bar to bench/results/<date>-<short git hash>-core.md.
#
#   bench/compare.sh [BUILD_DIR]          (BUILD_DIR, or $GORT_BUILD_DIR, default: build)
#
# Environment:
#   REPS=5                       repetitions per runtime (DESIGN §7 asks for >= 5)
#   PROCS="1 2"                  processor counts (GOMAXPROCS for Go)
#   WORKLOADS="spawn skynet skynet_chan fib yield parked mutex timers pingpong ring mpmc select2 select4 tcpecho"
#   RUN_TIMEOUT=300              seconds per single run
#   OUT=path.md                  report path (default bench/results/<date>-<hash>-core.md)
#   LOG=path                     append every run's stdout+stderr (checks, gort stats) there
#   GO_PEER=path                 a Go peer already built (e.g. by bench/pack_kit.sh): go not needed
#
# Build gort in Release first (cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build).
# Workloads gort does not have yet (gort_macro exits 3) show as n/a on the gort side; workloads
# Boost.Fiber has no counterpart for (fiber_peers exits 3), or every workload when fiber_peers was
# not built (no libboost-fiber-dev), show as n/a in the Boost.Fiber column.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

build_dir="${1:-${GORT_BUILD_DIR:-build}}"
REPS="${REPS:-5}"
PROCS="${PROCS:-1 2}"
WORKLOADS="${WORKLOADS:-spawn skynet skynet_chan fib yield parked mutex timers pingpong ring mpmc select2 select4 tcpecho}"
RUN_TIMEOUT="${RUN_TIMEOUT:-300}"

gort_bin=""
for cand in "$build_dir/bench/gort_macro" "$build_dir/gort_macro"; do
  if [[ -x "$cand" ]]; then gort_bin="$cand"; break; fi
done
fiber_bin=""
for cand in "$build_dir/bench/peers/fiber/fiber_peers" "$build_dir/peers/fiber/fiber_peers"; do
  if [[ -x "$cand" ]]; then fiber_bin="$cand"; break; fi
done
if [[ -z "$gort_bin" ]]; then
  echo "compare.sh: gort_macro not found in '$build_dir' (looked for $build_dir/bench/gort_macro)." >&2
  echo "  Build it first:  cmake -B $build_dir -DCMAKE_BUILD_TYPE=Release && cmake --build $build_dir --target gort_macro" >&2
  echo "  or pass the build directory: bench/compare.sh BUILD_DIR" >&2
  exit 1
fi
if ! [[ "$REPS" =~ ^[0-9]+$ ]] || (( REPS < 1 )); then
  echo "compare.sh: REPS must be a positive integer" >&2
  exit 1
fi
[[ -n "$fiber_bin" ]] || echo "compare.sh: note: fiber_peers not built in '$build_dir' (apt-get install libboost-fiber-dev, re-run cmake); Boost.Fiber column will be n/a" >&2
(( REPS >= 5 )) || echo "compare.sh: warning: REPS=$REPS < 5; DESIGN §7 asks for >= 5" >&2
GO_PEER="${GO_PEER:-}"
[[ -n "$GO_PEER" ]] || command -v go >/dev/null || { echo "compare.sh: 'go' not found (apt-get install golang-go)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "compare.sh: python3 not found" >&2; exit 1; }

# ---- build the Go peer (standard library only, no network) -------------------------------------
go_dir="$here/peers/go"
if [[ -n "$GO_PEER" ]]; then
  [[ -x "$GO_PEER" ]] || { echo "compare.sh: GO_PEER=$GO_PEER is not an executable" >&2; exit 1; }
  go_bin="$GO_PEER"
else
  go_bin="$go_dir/bin/gortpeers"
  go_cache="${GOCACHE:-$(go env GOCACHE 2>/dev/null || true)}"
  if [[ -z "$go_cache" || "$go_cache" == "off" ]]; then
    go_cache="$(mktemp -d "${TMPDIR:-/tmp}/gort-gocache.XXXXXX")"
  fi
  echo "building Go peer -> bench/peers/go/bin/gortpeers" >&2
  (cd "$go_dir" && GOCACHE="$go_cache" GOFLAGS= GOPROXY=off go build -o bin/gortpeers .)
fi

# ---- machine description ----------------------------------------------------------------------
cpu_model="$(lscpu 2>/dev/null | awk -F: '/^Model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}')"
ncpu="$(nproc)"
kernel="$(uname -r)"
mem="$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
gcc_v="$(cat "$(dirname "$go_bin")/gcc.version" 2>/dev/null || gcc --version 2>/dev/null | head -n1 || echo unknown)"
go_v="$(go version 2>/dev/null || cat "$(dirname "$go_bin")/go.version" 2>/dev/null || echo "Go (prebuilt, version unknown)")"
fiber_v="not built"
if [[ -n "$fiber_bin" ]]; then
  fiber_lib="$(awk -F= '/^Boost_FIBER_LIBRARY_RELEASE:/ {print $2}' "$build_dir/CMakeCache.txt" 2>/dev/null || true)"
  fiber_v="Boost.Fiber ${fiber_lib##*.so.}"
  [[ -n "$fiber_lib" ]] || fiber_v="Boost.Fiber (version unknown)"
fi
build_type="$(awk -F= '/^CMAKE_BUILD_TYPE:/ {print $2}' "$build_dir/CMakeCache.txt" 2>/dev/null || true)"
cxx_used="$(awk -F= '/^CMAKE_CXX_COMPILER:/ {print $2}' "$build_dir/CMakeCache.txt" 2>/dev/null || true)"
cxx_used="${cxx_used##*/}"
hash="${GORT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo nogit)}"  # GORT_COMMIT: a kit's commit
dirty=""
if [[ "$hash" != nogit ]] && [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  dirty=" (working tree has uncommitted changes)"
fi
date_s="$(date +%Y-%m-%d)"
out="${OUT:-bench/results/$date_s-$hash-core.md}"
mkdir -p "$(dirname "$out")"

raw="$(mktemp "${TMPDIR:-/tmp}/gort-compare.XXXXXX")"
trap 'rm -f "$raw" "$raw.stdout" "$raw.stderr"' EXIT

# ---- run, interleaved ----------------------------------------------------------------------------
# raw lines: RESULT ... | FAIL runtime=R workload=W procs=P rc=N | NA runtime=R workload=W procs=P
declare -A gort_na=() fiber_na=()
run_one() {  # runtime workload procs
  local rt="$1" wl="$2" p="$3" line rc
  local -a cmd
  if [[ "$rt" == gort ]]; then
    cmd=("$gort_bin" --workload "$wl" --procs "$p")
  elif [[ "$rt" == fiber ]]; then
    cmd=("$fiber_bin" --workload "$wl" --procs "$p")
  else
    cmd=("$go_bin" -workload "$wl" -procs "$p")
  fi
  set +e
  timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$raw.stdout" 2>"$raw.stderr"
  rc=$?
  if [[ -n "${LOG:-}" ]]; then
    { echo "### ${cmd[*]} (exit $rc)"; cat "$raw.stdout" "$raw.stderr"; } >>"$LOG"
  fi
  set -e
  line="$(grep '^RESULT ' "$raw.stdout" | tail -n1 || true)"
  if [[ "$rt" == gort && "$rc" == 3 ]]; then
    echo "NA runtime=$rt workload=$wl procs=$p" >>"$raw"
    gort_na["$wl"]=1
  elif [[ "$rt" == fiber && "$rc" == 3 ]]; then
    echo "NA runtime=$rt workload=$wl procs=$p" >>"$raw"
    fiber_na["$wl"]=1
  elif [[ "$rc" == 0 && -n "$line" ]]; then
    echo "$line" >>"$raw"
    echo "  $line" >&2
  else
    echo "FAIL runtime=$rt workload=$wl procs=$p rc=$rc" >>"$raw"
    echo "  FAIL: ${cmd[*]} (exit $rc$([[ $rc == 124 ]] && echo ", timed out after ${RUN_TIMEOUT}s")); its stderr ends:" >&2
    tail -n 5 "$raw.stderr" | sed 's/^/    /' >&2
  fi
}

for wl in $WORKLOADS; do
  for p in $PROCS; do
    echo "== $wl procs=$p ($REPS reps each, interleaved)" >&2
    for ((r = 1; r <= REPS; r++)); do
      if [[ -z "${gort_na[$wl]:-}" ]]; then run_one gort "$wl" "$p"; fi
      run_one go "$wl" "$p"
      if [[ -n "$fiber_bin" && -z "${fiber_na[$wl]:-}" ]]; then run_one fiber "$wl" "$p"; fi
    done
  done
done

cmdline="REPS=$REPS PROCS=\"$PROCS\" WORKLOADS=\"$WORKLOADS\" bench/compare.sh $build_dir"

# ---- report --------------------------------------------------------------------------------------
CPU_MODEL="$cpu_model" NCPU="$ncpu" KERNEL="$kernel" MEM="$mem" GCC_V="$gcc_v" GO_V="$go_v" \
BUILD_TYPE="$build_type" CXX_USED="$cxx_used" HASH="$hash" DIRTY="$dirty" DATE_S="$date_s" \
FIBER_V="$fiber_v" FIBER_BUILT="${fiber_bin:+1}" CMDLINE="$cmdline" REPS="$REPS" PROCS="$PROCS" WORKLOADS="$WORKLOADS" \
python3 - "$raw" "$out" <<'PYEOF'
import os, statistics, sys

raw_path, out_path = sys.argv[1], sys.argv[2]
e = os.environ
meta = {
    "cpu": e["CPU_MODEL"] or "unknown", "ncpu": e["NCPU"], "kernel": e["KERNEL"], "mem": e["MEM"],
    "gcc": e["GCC_V"], "go": e["GO_V"], "build_type": e["BUILD_TYPE"] or "unknown",
    "cxx": e["CXX_USED"] or "unknown", "hash": e["HASH"], "dirty": e["DIRTY"],
    "date": e["DATE_S"], "cmd": e["CMDLINE"], "reps": e["REPS"],
    "fiber": e["FIBER_V"], "fiber_built": bool(e.get("FIBER_BUILT")),
}
workloads = e["WORKLOADS"].split()
procs = [int(p) for p in e["PROCS"].split()]

vals, units, notes, fails, na = {}, {}, {}, {}, set()
for line in open(raw_path):
    parts = line.split()
    if not parts:
        continue
    kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    key = (kv["runtime"], kv["workload"], int(kv["procs"]))
    if parts[0] == "RESULT":
        vals.setdefault(key, []).append(float(kv["value"]))
        units[kv["workload"]] = kv.get("unit", "")
        if "note" in kv:
            notes[key] = kv["note"]
    elif parts[0] == "FAIL":
        fails[key] = fails.get(key, 0) + 1
    elif parts[0] == "NA":
        na.add((kv["runtime"], kv["workload"]))  # not available at any procs

def med(key):
    v = vals.get(key)
    return statistics.median(v) if v else None

def cell(key):
    v = vals.get(key)
    if key[0] == "fiber" and not meta["fiber_built"]:
        return "n/a (not built)"
    if key[:2] in na:
        return "n/a" if key[0] == "fiber" else "n/a (not yet)"
    if not v:
        return "FAILED" if key in fails else "—"
    s = f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})"
    if len(v) < int(meta["reps"]) or key in fails:
        s += f" [{len(v)} ok, {fails.get(key, 0)} failed]"
    return s

# DESIGN §7 bars. kind "ratio": gort/Go <= x; "abs": gort value <= x; only_procs: where it applies.
bars = {
    "spawn": ("ratio", 0.3, None, "≤ 0.3× Go"),
    "skynet": ("ratio", 0.5, None, "≤ 0.5× Go (§7 bar is for the channel version at 2 P)"),
    "skynet_chan": ("ratio", 0.5, 2, "≤ 0.5× Go at 2 P"),
    "yield": ("abs", 10.0, 1, "≤ 10 ns per yield at 1 P"),
    "parked": ("abs", 4.8 * 1024, None, "≤ 4.8 KiB (4915 B) per G"),
    "fib": (None, None, None, "speedup ≥ 1.85× (see below)"),
    "mutex": ("ratio", 1.0, None, "≤ Go"),
    "pingpong": ("ratio", 0.5, None, "≤ 0.5× Go per round trip"),
    "ring": ("ratio", 0.5, None, "≤ 0.5× Go per hop"),
    "mpmc": (None, None, None, "— (informational)"),
    "select2": (None, None, None, "— (informational)"),
    "select4": (None, None, None, "— (informational)"),
    "tcpecho": (None, None, None, "— (informational)"),
}

o = []
o.append(f"# gort vs Go 1.19 — core macro benchmarks ({meta['date']}, {meta['hash']})\n")
o.append("## Machine\n")
o.append(f"- CPU: {meta['cpu']} ({meta['ncpu']} CPUs available, nproc)")
o.append(f"- Kernel: {meta['kernel']}")
o.append(f"- Memory: {meta['mem']}")
o.append(f"- C++ compiler: {meta['gcc']} (build used: {meta['cxx']}, CMAKE_BUILD_TYPE={meta['build_type']})")
o.append(f"- Go: {meta['go']}")
o.append(f"- Boost.Fiber peer: {meta['fiber']}" + (" (work_stealing on N threads, round_robin at 1; "
         "16 KiB malloc stacks; see bench/README.md)" if meta["fiber_built"] else ""))
o.append(f"- gort commit: {meta['hash']}{meta['dirty']}\n")
o.append("## Command\n")
o.append("```")
o.append(meta["cmd"])
o.append("```\n")
o.append(f"{meta['reps']} runs per runtime and configuration, interleaved gort/Go/Boost.Fiber; each run "
         "is a fresh process. Cells: median (min–max). Ratios: gort median / Go median and gort median / "
         "Boost.Fiber median (lower is better for every workload here). The bar and verdict are "
         "against Go only.\n")
o.append("## Results\n")
o.append("| workload | procs | unit | gort | Go | Boost.Fiber | gort/Go | gort/fiber | bar (DESIGN §7) | verdict |")
o.append("|---|---|---|---|---|---|---|---|---|---|")
for wl in workloads:
    for p in procs:
        g, h, f = ("gort", wl, p), ("go", wl, p), ("fiber", wl, p)
        mg, mh, mf = med(g), med(h), med(f)
        ratio = f"{mg / mh:.2f}" if mg is not None and mh else "—"
        if mg is not None and mf:
            ratio_f = f"{mg / mf:.2f}"
        else:
            ratio_f = "n/a" if (not meta["fiber_built"] or f[:2] in na) else "—"
        kind, limit, only, text = bars.get(wl, (None, None, None, "—"))
        verdict = "—"
        if kind is not None and (only is None or only == p):
            if mg is None:
                verdict = "n/a" if g[:2] in na else "**failed**"
            elif kind == "ratio":
                verdict = "pass" if mh and mg / mh <= limit else "**miss**"
            else:
                verdict = "pass" if mg <= limit else "**miss**"
        elif kind is not None:
            text = f"({text})"
        unit = units.get(wl, "")
        if any(notes.get((rt, wl, p)) for rt in ("gort", "go", "fiber")):
            unit += f" ({notes.get(g) or notes.get(h) or notes.get(f)})"
        o.append(f"| {wl} | {p} | {unit} | {cell(g)} | {cell(h)} | {cell(f)} | {ratio} | {ratio_f} | {text} | {verdict} |")
o.append("")

def speedup_table(wl, title, runtimes, bar=None):
    """Time at 1 proc / time at N procs (medians) per runtime; bar(rt, p, s) -> verdict text."""
    others = [p for p in procs if p != 1]
    o.append(f"## {title} (time at 1 proc / time at N procs, medians)\n")
    o.append("| runtime | " + " | ".join(f"{p} procs" for p in others) + (" | bar |" if bar else " |"))
    o.append("|---|" + "---|" * (len(others) + (1 if bar else 0)))
    for rt in runtimes:
        cells = []
        for p in others:
            a, b = med((rt, wl, 1)), med((rt, wl, p))
            if a is None or b is None or b == 0:
                cells.append("—")
            else:
                cells.append(f"{a / b:.2f}×" + (bar(rt, p, a / b) if bar else ""))
        row = f"| {rt} | " + " | ".join(cells) + " |"
        if bar:
            row += " " + {"gort": "≥ 1.85× at 2 procs", "go": "(Go measured 1.75× in §7)",
                          "fiber": "—"}[rt] + " |"
        o.append(row)
    o.append("")

if "fib" in workloads and 1 in procs:
    speedup_table("fib", "fib(35) fork-join speedup",
                  [rt for rt in ("gort", "go", "fiber") if rt != "fiber" or meta["fiber_built"]],
                  bar=lambda rt, p, s: (" pass" if s >= 1.85 else " **miss**")
                  if rt == "gort" and p == 2 else "")

# tcpecho: what more threads buy a network workload whose both ends run on the runtime. No bar
# (bench/README.md).
if "tcpecho" in workloads and 1 in procs and len(procs) > 1:
    speedup_table("tcpecho", "tcpecho speedup", ["gort", "go"])

o.append("## Raw values\n")
for wl in workloads:
    for p in procs:
        for rt in ("gort", "go", "fiber"):
            v = vals.get((rt, wl, p))
            if v:
                o.append(f"- {rt} {wl} procs={p}: " + ", ".join(f"{x:.1f}" for x in v))
o.append("")
o.append("Notes: skynet is fork-join with a WaitGroup and a result slot per child on both sides; "
         "skynet_chan is the original skynet with one unbuffered channel per node. parked counts VmRSS + "
         "VmPTE growth per parked goroutine on both sides. Numbers are only meaningful together "
         "with the machine description above.")
if meta["fiber_built"]:
    o.append("")
    o.append("Boost.Fiber: idle work_stealing threads poll instead of sleeping, so at procs ≥ 2 every "
             "thread keeps a CPU busy for the whole run (and suffers badly when the machine is "
             "loaded or procs exceeds the CPUs); its buffered channel of capacity 128 holds 127 "
             "messages (mpmc); it has no select (select2/select4 are n/a). See bench/README.md.")
open(out_path, "w").write("\n".join(o) + "\n")
PYEOF

echo "report written to $out" >&2
cat "$out"
