# Sourced by bench/*_side_by_side.sh. Runs hipt's Google Benchmark binary and each PyTorch in
# $PYTHONS alternately, REPS times per thread count in THREADS, so all see the same background load;
# leaves the results in $out as bench/peer_results.py reads them.
#
#   side_by_side_setup BENCH_NAME               # checks $BIN/BENCH_NAME; sets here, out (removed at exit)
#   run_alternately "BENCH_ARGS" TORCH_SCRIPT [TORCH_ARGS...]   # the script gets THREADS first

side_by_side_setup() {
  bench="$BIN/$1"
  [ -x "$bench" ] || { echo "error: no $bench: configure with -DHIPT_BUILD_BENCH=ON and build $1" >&2; exit 1; }
  here=$(cd "$(dirname "$0")" && pwd)
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
}

run_alternately() {
  local bench_args=$1 script=$2
  shift 2
  echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for rep in $(seq "$REPS"); do
    for t in $THREADS; do
      # shellcheck disable=SC2086  # bench_args is a list of flags
      HIPT_NUM_THREADS=$t "$bench" $bench_args --benchmark_format=json 2>/dev/null >"$out/hipt_${t}_${rep}.json"
      local i=0
      for py in $PYTHONS; do
        i=$((i + 1))
        OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t "$py" "$script" "$t" "$@" \
          >"$out/torch${i}_${t}_${rep}.txt" 2>"$out/torch${i}_${t}.version"
      done
    done
  done
  echo "end:   $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
