#!/usr/bin/env bash
# hipt sgemm vs OpenBLAS sgemm, same shapes, 1 and 2 threads, each library in its own process.
# Repeats the pair of runs REPS times, alternating the libraries so that both see the same
# background load, and prints the best GFLOP/s of each as a markdown table with the ratio
# hipt/OpenBLAS and hipt's own 2-thread scaling.
#
#   bench/gemm_side_by_side.sh                       # from the repo root, after building
#   REPS=5 MIN_TIME=0.5 FILTER=vit bench/gemm_side_by_side.sh
#   OUT=/tmp/gemm_runs bench/gemm_side_by_side.sh    # keep the JSON; later calls with the same OUT
#                                                    # add to it, the table is the best over all
#   OUT=/tmp/gemm_runs REPS=0 bench/gemm_side_by_side.sh   # just print the table of what is there
# On a shared machine, OUT lets you collect runs from several quiet moments.
set -euo pipefail
BIN=${BIN:-build/bin}
REPS=${REPS:-3}
MIN_TIME=${MIN_TIME:-0.3}
FILTER=${FILTER:-.}
THREADS=${THREADS:-"1 2"}
[ -x "$BIN/bench_gemm" ] || { echo "error: no $BIN/bench_gemm: run cmake --build build --target bench_gemm" >&2; exit 1; }
have_blas=0
[ -x "$BIN/bench_gemm_openblas" ] && have_blas=1
[ $have_blas = 1 ] || echo "note: no $BIN/bench_gemm_openblas (OpenBLAS not found at configure time): hipt only" >&2

echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${OUT:-}" ]; then
  out=$OUT
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
stamp=$(date +%s)
for rep in $(seq "$REPS"); do
  for t in $THREADS; do
    args=(--benchmark_filter="${FILTER}.*threads:${t}/" --benchmark_min_time="$MIN_TIME" --benchmark_out_format=json)
    HIPT_NUM_THREADS=$t "$BIN/bench_gemm" "${args[@]}" --benchmark_out="$out/hipt_${t}_${stamp}_${rep}.json" >/dev/null 2>&1
    if [ $have_blas = 1 ]; then
      OPENBLAS_NUM_THREADS=$t "$BIN/bench_gemm_openblas" "${args[@]}" --benchmark_out="$out/openblas_${t}_${stamp}_${rep}.json" >/dev/null 2>&1
    fi
  done
done

echo "end:   $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import glob, json, os, re, sys
best, label, shapes, runs = {}, {}, [], {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    lib, t = os.path.basename(path).split("_")[:2]
    try:
        data = json.load(open(path))
    except ValueError:  # a run still being written, or one that was killed
        print(f"skipping unreadable {path}", file=sys.stderr)
        continue
    runs[(lib, t)] = runs.get((lib, t), 0) + 1
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        m = re.match(r"gemm/([^/]+)/([^/]+)/threads:(\d+)", b["name"])
        key = (m.group(1), m.group(2), int(m.group(3)))
        if key[:2] not in shapes:
            shapes.append(key[:2])
        best[(lib,) + key] = max(best.get((lib,) + key, 0.0), b["GFLOP/s"])
        label[lib] = b.get("label", "")
threads = sorted({k[3] for k in best})
print(f"best of {min(runs.values(), default=0)}-{max(runs.values(), default=0)} runs per library and thread count,"
      f" GFLOP/s (hipt kernel: {label.get('hipt', '?')}, OpenBLAS core: {label.get('openblas', 'n/a')})\n")
print("| shape | M×N×K op | threads | hipt | OpenBLAS | hipt/OpenBLAS | hipt scaling vs 1 thread |")
print("|---|---|---|---|---|---|---|")
for t in threads:
    for name, dims in shapes:
        h, o = best.get(("hipt", name, dims, t)), best.get(("openblas", name, dims, t))
        h1 = best.get(("hipt", name, dims, 1))
        if h is None:
            continue
        blas = f"{o:.1f} | {h / o:.2f}" if o else "– | –"
        scale = f"{h / h1:.2f}x" if (h1 and t != 1) else "–"
        print(f"| {name} | {dims} | {t} | {h:.1f} | {blas} | {scale} |")
PY
