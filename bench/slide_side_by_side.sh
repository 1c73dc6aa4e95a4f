#!/usr/bin/env bash
# hipt's slide reader vs OpenSlide 3.4.1 on the same files in the same process (bench/bench_slide.cpp),
# then a table of median wall times per read and the ratio OpenSlide/hipt.
#
#   bench/slide_side_by_side.sh                     # from the repo root
#   REPS=5 MIN_TIME=1 bench/slide_side_by_side.sh
#   FILTER=read256 bench/slide_side_by_side.sh      # a subset of the cases
#   OUT=/tmp/slide.json bench/slide_side_by_side.sh # keep Google Benchmark's JSON
# Files: a 17760x17802 JPEG pyramid (Q75 YCbCr 4:2:0, 256² tiles, 8 levels) made once with vips by
# tiling CMU-1-Small-Region.svs 8x6 (kept in $DATA, default build/bench-data; never committed), and
# CMU-1-Small-Region.svs itself (240² tiles, 2220x2967: the 4096² case reads the whole level).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${REPS:-3}
MIN_TIME=${MIN_TIME:-0.5}
FILTER=${FILTER:-.}
DATA=${DATA:-$BUILD/bench-data}
SAMPLE=${SAMPLE:-../shared/wsi-samples/CMU-1-Small-Region.svs}
die() { echo "error: $*" >&2; exit 1; }

[ -f "$SAMPLE" ] || die "no $SAMPLE (the benchmark tiles it into its big slide)"
if [ ! -f "$BUILD/build.ninja" ] && [ ! -f "$BUILD/Makefile" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DHIPT_WITH_CUDA=OFF -DHIPT_BUILD_BENCH=ON > /dev/null
fi
cmake --build "$BUILD" -j2 --target bench_slide > /dev/null || die "bench_slide did not build (HIPT_BUILD_BENCH=ON?)"

big=$DATA/cmu1x48-jpeg.tiff
if [ ! -f "$big" ]; then
  command -v vips > /dev/null || die "vips is needed to make $big (apt-get install libvips-tools)"
  mkdir -p "$DATA"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "making $big with vips (about a minute)"
  vips replicate "$SAMPLE" "$tmp/tiled.v" 8 6
  vips extract_band "$tmp/tiled.v" "$tmp/rgb.v" 0 --n 3
  vips tiffsave "$tmp/rgb.v" "$tmp/big.tiff" --tile --tile-width 256 --tile-height 256 --pyramid \
    --compression jpeg --Q 75
  mv "$tmp/big.tiff" "$big"
fi

out=${OUT:-$(mktemp)}
echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bin/bench_slide" --benchmark_filter="$FILTER" --benchmark_min_time="$MIN_TIME" \
  --benchmark_repetitions="$REPS" --benchmark_out="$out" --benchmark_out_format=json "$big" "$SAMPLE" > /dev/null
echo "end:   $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import json, re, statistics, sys
runs = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    m = re.match(r"slide/([^/]+)/([^/]+)/([^/]+)/real_time/threads:(\d+)", b["name"])
    slide, case, lib, threads = m.group(1), m.group(2), m.group(3), int(m.group(4))
    # With n threads, each iteration is one read per thread: ms per read of the aggregate.
    ms = b["real_time"] / threads if b["time_unit"] == "ms" else float("nan")
    runs.setdefault((slide, case, threads), {}).setdefault(lib, []).append((ms, b["cpu_time"]))
print(f"median of {max((len(v) for r in runs.values() for v in r.values()), default=0)} repetitions; "
      "ms per read (aggregate over the callers); ratio = OpenSlide / hipt (wall), cpu = the same in CPU time.\n"
      "hipt_*pool2 rows are one caller whose tiles decode on 2 pool threads, compared with OpenSlide's 2 callers"
      " (its only way to use 2 cores); their CPU time counts the caller's thread only, so no cpu ratio.\n")
print("| slide | case | callers | reader | hipt ms | OpenSlide ms | ratio | cpu ratio |")
print("|---|---|---|---|---|---|---|---|")
med = lambda v, i: statistics.median(x[i] for x in v)
for (slide, case, threads), libs in runs.items():
    for lib, v in libs.items():
        if lib == "openslide":
            continue
        pool = lib.endswith("pool2")
        o = runs.get((slide, case, 2 if pool else threads), {}).get("openslide")
        h, hc = med(v, 0), med(v, 1)
        if o:
            om, oc = med(o, 0), med(o, 1)
            cpu = "–" if pool else f"{oc / hc:.1f}x"
            print(f"| {slide} | {case} | {threads} | {lib} | {h:.3f} | {om:.3f} | {om / h:.1f}x | {cpu} |")
        else:
            print(f"| {slide} | {case} | {threads} | {lib} | {h:.3f} | – | – | – |")
PY
[ -n "${OUT:-}" ] || rm -f "$out"
