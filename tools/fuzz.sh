#!/usr/bin/env bash
# Fuzzes hipt's readers of outside files with libFuzzer + ASan + UBSan (Debian's clang), outside CI.
#   tools/fuzz.sh [-s seconds per run, default 300] [-r runs, default 1] [TARGET... | all]
# Targets: slide (default), pth, safetensors, png, coords_csv, coords_h5, preset, slide_labels; `all` is
# every one.
# Two targets run at a time (two cores). Builds build-fuzz/ (HIPT_BUILD_FUZZ=ON), makes each
# target's seed corpus in a temp folder (never in the repository) from our own files: for slide,
# the real slides in ../shared/wsi-samples, the byte-built TIFFs of fuzz/make_seeds.cpp and vips
# pyramids of its test card; for pth, the .pth fixtures of tests/data/pth; for safetensors, png,
# coords_csv and slide_labels, the files make_seeds writes (plus tests/data/*.safetensors); for coords_h5,
# tests/data/coords/*.h5; for preset, presets/*.csv. Each run continues the target's corpus, with
# the target's dictionary (fuzz/*.dict). Crash and hang inputs land in <work>/<target>/artifacts/;
# each run's log is <work>/<target>/run<i>.log; a one-line summary per run goes to
# <work>/summary.txt (execs, coverage at start and end, corpus size, artifacts). Environment:
#   HIPT_FUZZ_WORK     work folder (default: a fresh mktemp -d), kept afterwards for reruns
#   HIPT_FUZZ_MAX_LEN  -max_len (default 65536)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=300
runs=1
while getopts "s:r:" opt; do
  case $opt in
    s) secs=$OPTARG ;;
    r) runs=$OPTARG ;;
    *) echo "usage: tools/fuzz.sh [-s seconds] [-r runs] [TARGET... | all]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
all_targets="slide pth safetensors png coords_csv coords_h5 preset slide_labels"
targets=${*:-slide}
[ "$targets" = all ] && targets=$all_targets
for t in $targets; do
  case " $all_targets " in *" $t "*) ;; *) echo "error: unknown fuzz target '$t' (one of: $all_targets, all)" >&2; exit 2 ;; esac
done
max_len=${HIPT_FUZZ_MAX_LEN:-65536}
command -v clang++ > /dev/null || { echo "error: clang++ not found (apt-get install clang)" >&2; exit 1; }

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHIPT_BUILD_FUZZ=ON \
  -DHIPT_BUILD_TESTS=OFF -DHIPT_BUILD_BENCH=OFF -DHIPT_WITH_CUDA=OFF -DHIPT_WERROR=ON > /dev/null
# shellcheck disable=SC2046  # one target name per word
cmake --build build-fuzz -j2 --target fuzz_make_seeds $(for t in $targets; do echo "fuzz_$t"; done)

work=${HIPT_FUZZ_WORK:-$(mktemp -d /tmp/hipt-fuzz.XXXXXX)}
mkdir -p "$work/tmp" "$work/seeds"
if [ ! -d "$work/seeds/slide" ]; then
  build-fuzz/bin/fuzz_make_seeds "$work/seeds"
  samples=../shared/wsi-samples
  if [ -d "$samples" ]; then
    find "$samples" -maxdepth 1 -type f \( -name '*.svs' -o -name '*.tif*' \) -exec cp {} "$work/seeds/slide/" \;
  else
    echo "fuzz.sh: no samples at $samples; seeding the slide target with our own files only"
  fi
  if command -v vips > /dev/null; then
    for c in "jpeg --Q 80" "deflate" "lzw" "jp2k" "none --bigtiff" "zstd"; do
      name=vips_$(echo "$c" | tr -c 'a-z0-9' '_').tiff
      vips tiffsave "$work/seeds/slide/card.png" "$work/seeds/slide/$name" --tile --tile-width 64 --tile-height 64 \
        --pyramid --compression $c > /dev/null 2>&1 || echo "fuzz.sh: vips could not write $name; skipped"
    done
  fi
  rm -f "$work/seeds/slide/card.png"
  mkdir -p "$work/seeds/pth" "$work/seeds/coords_h5" "$work/seeds/preset"
  cp tests/data/pth/*.pth "$work/seeds/pth/"
  cp tests/data/*.safetensors tests/data/pth/*.safetensors "$work/seeds/safetensors/"
  cp tests/data/coords/*.h5 "$work/seeds/coords_h5/"
  cp presets/*.csv "$work/seeds/preset/"
fi
echo "fuzz.sh: work folder $work; targets: $targets; ${runs} run(s) of ${secs}s each"

dict_of() {
  case $1 in
    slide) echo fuzz/tiff.dict ;;
    coords_csv | preset | slide_labels) echo fuzz/csv.dict ;;
    coords_h5) echo fuzz/h5.dict ;;
    *) echo "fuzz/$1.dict" ;;
  esac
}

# The input file each target writes goes to a tmpfs when there is one.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; else export TMPDIR="$work/tmp"; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target, all its runs; prints its summary lines. Exit status 1 when a run found something.
fuzz_one() {
  local t=$1 dir=$work/$1 status=0 malloc_limit=1024
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [ "$t" = coords_h5 ]; then
    # libhdf5 (uninstrumented) mallocs whatever size corrupt metadata claims and turns a failed
    # malloc into an error (docs/reliability.md): let huge requests fail as they do outside the
    # sanitizer, and ignore the small blocks it leaks on those error paths.
    export ASAN_OPTIONS="$ASAN_OPTIONS:allocator_may_return_null=1:detect_leaks=0"
    malloc_limit=$((1 << 30))
  fi
  for i in $(seq 1 "$runs"); do
    build-fuzz/bin/fuzz_"$t" "$dir/corpus" "$work/seeds/$t" -max_len="$max_len" -rss_limit_mb=2048 \
      -malloc_limit_mb="$malloc_limit" -timeout=10 -dict="$(dict_of "$t")" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/" > "$dir/run$i.log" 2>&1 || status=1
    local inited done_ execs
    inited=$(grep -m1 -E '^#[0-9]+.*INITED' "$dir/run$i.log" | grep -oE 'cov: [0-9]+' || echo "cov: ?")
    done_=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$dir/run$i.log" | tail -1 | grep -oE 'cov: [0-9]+' || echo "cov: ?")
    execs=$(grep -m1 -oE 'stat::number_of_executed_units: [0-9]+' "$dir/run$i.log" | grep -oE '[0-9]+$' || echo "?")
    echo "$t run $i: ${secs}s, execs $execs, ${inited} -> ${done_}, corpus $(ls "$dir/corpus" | wc -l), artifacts $(ls "$dir/artifacts" | wc -l)" |
      tee -a "$work/summary.txt"
  done
  return $status
}

status=0
set -- $targets
while [ $# -gt 0 ]; do
  fuzz_one "$1" &
  first=$!
  second=
  if [ $# -gt 1 ]; then
    fuzz_one "$2" &
    second=$!
  fi
  wait "$first" || status=1
  [ -z "$second" ] || wait "$second" || status=1
  shift $(($# > 1 ? 2 : 1))
done
echo "fuzz.sh: summary in $work/summary.txt; artifacts:"
for t in $targets; do ls -l "$work/$t/artifacts"; done
exit $status
