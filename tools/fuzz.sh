#!/usr/bin/env bash
# Fuzzes the slide reader with libFuzzer + ASan + UBSan (Debian's clang), outside CI.
#   tools/fuzz.sh [seconds per run, default 300] [runs, default 2]
# Builds build-fuzz/ (HIPT_BUILD_FUZZ=ON), makes a seed corpus in a temp folder (never in the
# repository): the real slides in ../shared/wsi-samples, the byte-built TIFFs of fuzz/make_seeds.cpp,
# and vips pyramids of its test card; then runs fuzz_slide, each run continuing the corpus of the
# last, with the dictionary fuzz/tiff.dict. Crash/hang inputs land in <work>/artifacts/ (listed at
# the end); each run's log is <work>/run<i>.log (overwritten by the next invocation). Environment:
#   HIPT_FUZZ_WORK   work folder (default: a fresh mktemp -d), kept afterwards for reruns
#   HIPT_FUZZ_MAX_LEN  -max_len (default 65536: the small samples whole, the big ones' headers)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
runs=${2:-2}
max_len=${HIPT_FUZZ_MAX_LEN:-65536}
command -v clang++ > /dev/null || { echo "error: clang++ not found (apt-get install clang)" >&2; exit 1; }

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHIPT_BUILD_FUZZ=ON \
  -DHIPT_BUILD_TESTS=OFF -DHIPT_BUILD_BENCH=OFF -DHIPT_WITH_CUDA=OFF -DHIPT_WERROR=ON > /dev/null
cmake --build build-fuzz -j2 --target fuzz_slide fuzz_make_seeds

work=${HIPT_FUZZ_WORK:-$(mktemp -d /tmp/hipt-fuzz.XXXXXX)}
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts" "$work/tmp"
if [ -z "$(ls -A "$work/seeds")" ]; then
  samples=../shared/wsi-samples
  if [ -d "$samples" ]; then
    find "$samples" -maxdepth 1 -type f \( -name '*.svs' -o -name '*.tif*' \) -exec cp {} "$work/seeds/" \;
  else
    echo "fuzz.sh: no samples at $samples; seeding with our own files only"
  fi
  build-fuzz/bin/fuzz_make_seeds "$work/seeds"
  if command -v vips > /dev/null; then
    for c in "jpeg --Q 80" "deflate" "lzw" "jp2k" "none --bigtiff" "zstd"; do
      name=vips_$(echo "$c" | tr -c 'a-z0-9' '_').tiff
      vips tiffsave "$work/seeds/card.png" "$work/seeds/$name" --tile --tile-width 64 --tile-height 64 --pyramid \
        --compression $c > /dev/null 2>&1 || echo "fuzz.sh: vips could not write $name; skipped"
    done
  fi
  rm -f "$work/seeds/card.png"
fi
echo "fuzz.sh: work folder $work ($(ls "$work/seeds" | wc -l) seeds)"

# The input file the target writes goes to a tmpfs when there is one.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; else export TMPDIR="$work/tmp"; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for i in $(seq 1 "$runs"); do
  echo "== run $i of $runs: ${secs}s"
  build-fuzz/bin/fuzz_slide "$work/corpus" "$work/seeds" -max_len="$max_len" -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -timeout=10 -dict=fuzz/tiff.dict -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" 2>&1 | tee "$work/run$i.log" | grep -E '^(#[0-9]+.*(INITED|DONE)|stat::|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
echo "fuzz.sh: corpus $(ls "$work/corpus" | wc -l) files; artifacts:"
ls -l "$work/artifacts"
exit $status
