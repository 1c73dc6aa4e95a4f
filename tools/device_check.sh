#!/usr/bin/env bash
# The GPU check: build a self-contained bundle here, run it on a machine with a GPU and no network.
#
#   tools/device_check.sh build [DIR]   here: configure and build build-device/ (CUDA sm_90 + PTX,
#                                       Release, no MPI), then make DIR (default device-bundle/):
#                                       the binaries, the Debian libraries they need (lib/), the test
#                                       data, the slide samples and the scripts; check that each
#                                       binary finds all its libraries inside DIR except the GPU
#                                       machine's own (libcuda, cuBLAS, NCCL), that DIR is at most
#                                       64 MiB, and dry-run a copy of DIR at another path.
#   DIR/device_check.sh run             there, from the bundle: no build, no network, under 5 min.
#                                       Writes into $OUT (default ./out), each stage as it ends:
#                                         summary.md   one table per stage, then the stages table
#                                         tests.json   gtest's report of the whole suite
#                                         log.txt      every stage's output
#                                         sanitizer.log, gemm.json, models.json, attention.md
#                                         (when they ran)
#   DIR/device_check.sh dry-run         the same stages, told that there is no GPU (the GPU stages
#                                       skip): what `build` runs on its copy.
#
# Stages of `run`, each under its own timeout, none stopping the others:
#   gpu        nvidia-smi -L and the card's name
#   tests      the whole hipt_tests suite, the CUDA instances included (they skip without a GPU)
#   sanitizer  compute-sanitizer memcheck on the device-parameterised suites' cuda instances
#              (Devices/*/cuda), HIPT_NO_CACHING_ALLOCATOR=1
#   gemm       bench_cuda_gemm --json, when the bundle has it
#   models     bench/gpu_side_by_side.py: bench_cuda_models next to PyTorch on the same card
#   embed      hipt embed-region on one 2048² region of a sample slide, CPU vs GPU features
#   attention  hipt bench-attention, flash vs composite (ViT-256 f32 and bf16, forward and backward;
#              T = 4096 bf16 causal), then bench/attention_side_by_side.sh: the ViT-256 shape and
#              T = 4096 in bf16 next to PyTorch's SDPA and matmul-softmax-matmul (attention.md)
# Environment for `run`: OUT, HIPT_CHECK_TIMEOUT_<STAGE> (seconds, e.g. HIPT_CHECK_TIMEOUT_TESTS=90),
# HIPT_CHECK_NO_GPU=1 (what dry-run sets).
set -u

BUNDLE_MAX_BYTES=$((64 * 1024 * 1024))
STAGES=(gpu tests sanitizer gemm models embed attention)
declare -A STAGE_TIMEOUT=([gpu]=10 [tests]=60 [sanitizer]=30 [gemm]=20 [models]=70 [embed]=40 [attention]=50)  # 280 s in all
SKIP=77  # a stage's exit status for "skipped"; its last output line says why

say() { printf '%s\n' "$*"; }
die() { printf 'device_check: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit "${1:-0}"
}

# ------------------------------------------------------------------------------------------- build
# Libraries every Linux has (glibc and the loader): never bundled.
is_system_lib() {
  case "$1" in
    linux-vdso.so* | ld-linux*.so* | libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | \
      libresolv.so* | libutil.so* | libanl.so*) return 0 ;;
  esac
  return 1
}
# The GPU machine's own: the driver, cuBLAS, NCCL (and cudart, were it linked shared).
is_gpu_lib() {
  case "$1" in
    libcuda.so* | libcublas.so* | libcublasLt.so* | libnccl.so* | libcudart.so* | libnvidia-*) return 0 ;;
  esac
  return 1
}
# The C++ runtime goes to lib/compat/, used only where the GPU machine's own is older than ours.
is_cxx_runtime() {
  case "$1" in libstdc++.so* | libgcc_s.so*) return 0 ;; esac
  return 1
}

# "name path" for each library ldd lists ("not-found" as the path when it cannot find one).
ldd_pairs() {
  ldd "$1" 2>/dev/null | awk '
    $2 == "=>" && $3 == "not" { print $1, "not-found"; next }
    $2 == "=>" && $3 ~ /^\// { print $1, $3; next }
    $1 ~ /^\// { n = split($1, p, "/"); print p[n], $1 }'
}

# Each binary in DIR/bin must find every library inside DIR/lib, except system and GPU ones.
check_ldd() {
  local dir=$1 bad=0 bin name path
  say "ldd check of $dir/bin (libraries must resolve inside $dir/lib):"
  for bin in "$dir"/bin/*; do
    while read -r name path; do
      if is_gpu_lib "$name"; then
        say "  $(basename "$bin"): $name -> $path (the GPU machine's)"
      elif is_system_lib "$name" || is_cxx_runtime "$name"; then
        :
      elif [ "$path" = not-found ]; then
        say "  $(basename "$bin"): $name NOT FOUND"; bad=1
      else
        case "$(readlink -f "$path")" in
          "$(readlink -f "$dir")"/lib/*) ;;
          *) say "  $(basename "$bin"): $name -> $path is outside the bundle"; bad=1 ;;
        esac
      fi
    done < <(ldd_pairs "$bin" | sort -u)
  done
  [ $bad = 0 ] && say "  every other library resolves inside the bundle"
  return $bad
}

do_build() {
  local dir=${1:-device-bundle} root build jobs
  root=$(cd "$(dirname "$0")/.." && pwd)
  cd "$root" || die "cannot enter $root"
  case "$dir" in /*) ;; *) dir=$root/$dir ;; esac
  build=${HIPT_DEVICE_BUILD_DIR:-$root/build-device}
  jobs=${HIPT_BUILD_JOBS:-2}
  for tool in cmake ninja ldd python3; do
    command -v $tool > /dev/null || die "$tool not found (bash scripts/setup.sh installs the build tools)"
  done
  local nvcc=${CUDACXX:-/usr/local/cuda/bin/nvcc}
  [ -x "$nvcc" ] || die "nvcc not found at $nvcc (set CUDACXX)"

  # DT_RPATH (not RUNPATH): $ORIGIN/../lib then serves the bundled libraries' own dependencies too.
  export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
  say "== configure $build (CUDA sm_90 + PTX, Release, no MPI, no OpenSlide oracle)"
  mkdir -p "$build" || die "cannot make $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DHIPT_WITH_MPI=OFF -DHIPT_BUILD_TESTS=ON -DHIPT_BUILD_BENCH=ON \
    -DHIPT_WERROR=ON -DHIPT_WITH_OPENSLIDE=OFF '-DCMAKE_BUILD_RPATH=$ORIGIN/../lib' -DCMAKE_BUILD_RPATH_USE_ORIGIN=ON \
    -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags > "$build/device_check.configure.log" 2>&1 ||
    { tail -20 "$build/device_check.configure.log"; die "cmake configure failed (log: $build/device_check.configure.log)"; }
  ninja -C "$build" -t targets all 2> /dev/null | grep -q 'runtime\.cu\.o' || die "the build has no CUDA (nvcc not used)"

  local targets=(hipt_cli hipt_tests bench_cuda_models) bins=(hipt hipt_tests bench_cuda_models)
  if ninja -C "$build" -t targets all 2> /dev/null | grep -q '^bench_cuda_gemm:'; then
    targets+=(bench_cuda_gemm) bins+=(bench_cuda_gemm)
  else
    say "(no bench_cuda_gemm target: the gemm stage will skip)"
  fi
  say "== build ${targets[*]} (-j$jobs)"
  cmake --build "$build" -j"$jobs" --target "${targets[@]}" > "$build/device_check.build.log" 2>&1 ||
    { grep -E 'error|FAILED' "$build/device_check.build.log" | head -30; die "build failed (log: $build/device_check.build.log)"; }

  say "== bundle $dir"
  rm -rf "$dir"
  mkdir -p "$dir"/{bin,lib/compat,data,bench,scripts} || die "cannot make $dir"
  for b in "${bins[@]}"; do cp "$build/bin/$b" "$dir/bin/"; done
  local name path
  for b in "${bins[@]}"; do
    while read -r name path; do
      [ "$path" = not-found ] && ! is_gpu_lib "$name" && die "$b: $name not found here"
      if is_system_lib "$name" || is_gpu_lib "$name"; then continue; fi
      if is_cxx_runtime "$name"; then cp -L "$path" "$dir/lib/compat/$name"; else cp -L "$path" "$dir/lib/$name"; fi
    done < <(ldd_pairs "$build/bin/$b")
  done
  cp -r tests/data "$dir/data/tests"
  cp -r presets "$dir/data/presets"
  if [ -d ../shared/wsi-samples ]; then
    cp -r ../shared/wsi-samples "$dir/data/samples"
  else
    say "(no ../shared/wsi-samples: the tests that need them and the embed stage will skip)"
  fi
  cp scripts/make_vit_fixtures.py "$dir/scripts/"
  cp bench/gpu_side_by_side.py bench/attention_side_by_side.sh bench/attention_torch.py "$dir/bench/"
  cp tools/device_report.py tools/device_check.sh "$dir/"
  {
    say "commit $(git rev-parse HEAD 2> /dev/null)$(git diff --quiet HEAD 2> /dev/null || echo ' (with uncommitted changes)')"
    say "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME"), $("$nvcc" --version | tail -1)"
    say "needs glibc >= $(objdump -T "$dir"/bin/* "$dir"/lib/*.so* 2> /dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 | cut -d_ -f2)"
    say "needs libstdc++ with $(objdump -T "$dir"/bin/* "$dir"/lib/*.so* 2> /dev/null | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1) (else lib/compat is used)"
  } > "$dir/MANIFEST"
  cat "$dir/MANIFEST"

  local size
  size=$(du -sb "$dir" | cut -f1)
  say "bundle size: $size bytes ($((size / 1024 / 1024)) MiB; limit 64 MiB)"
  [ "$size" -le $BUNDLE_MAX_BYTES ] || die "$dir is larger than 64 MiB"

  local dry
  dry=$(mktemp -d /tmp/devcheck-dry-XXXXXX) || die "mktemp failed"
  cp -r "$dir" "$dry/bundle"
  say "== dry run of a copy at $dry/bundle"
  check_ldd "$dry/bundle" || die "libraries resolve outside the bundle (above)"
  # This machine may have 2 cores where the GPU machine has 16: the dry run gets more time.
  (cd "$dry/bundle" && OUT=$dry/out HIPT_CHECK_TIMEOUT_TESTS=${HIPT_CHECK_TIMEOUT_TESTS:-900} ./device_check.sh dry-run) ||
    die "dry run failed: the bundle is made, but a CPU stage failed (summary: $dry/out/summary.md)"
  say "dry run passed: $dry/out/summary.md"
  say "carry '$(realpath --relative-to="$root" "$dir")' and run: cd $(realpath --relative-to="$root" "$dir") && ./device_check.sh run"
}

# --------------------------------------------------------------------------------------------- run
# Ends a stage as skipped: the reason in the summary and as the output's last line.
skip() {
  say "| skipped: $1 |" >> "$OUT/summary.md"
  say "skipped: $1"
  exit $SKIP
}
have_gpu() { [ -z "${HIPT_CHECK_NO_GPU:-}" ] && command -v nvidia-smi > /dev/null && nvidia-smi -L 2> /dev/null | grep -q '^GPU'; }
no_gpu() {
  if [ -n "${HIPT_CHECK_NO_GPU:-}" ]; then skip "no GPU (dry run)"; else skip "no GPU (nvidia-smi lists none)"; fi
}
section() { printf '\n## %s\n\n' "$1" >> "$OUT/summary.md"; }

# cuBLAS is the GPU machine's: find it where CUDA or PyTorch's wheels keep it.
find_cublas() {
  ldd bin/hipt_tests 2> /dev/null | grep -q 'libcublas.*not found' || return 0
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
    $(python3 -c 'import nvidia.cu13, os; print(os.path.dirname(nvidia.cu13.__file__) + "/lib")' 2> /dev/null) \
    $(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__) + "/lib")' 2> /dev/null); do
    if ls "$d"/libcublas.so.* > /dev/null 2>&1; then
      export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
      say "cuBLAS from $d"
      return 0
    fi
  done
  say "cuBLAS not found on this machine: binaries linking it will not start"
}

stage_gpu() {
  section "GPU"
  command -v nvidia-smi > /dev/null || skip "no GPU (nvidia-smi not on PATH)"
  nvidia-smi -L || true
  local q
  q=$(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)
  say "$q"
  { say "| card | memory | driver | SM clock now / max |"; say "|---|---|---|---|"
    echo "$q" | awk -F', ' '{ print "| " $1 " | " $2 " | " $3 " | " $4 " / " $5 " |" }'; } >> "$OUT/summary.md"
  have_gpu || no_gpu
}

stage_tests() {
  section "Test suite (hipt_tests, every test; CUDA instances skip without a GPU)"
  # Shards in parallel (the machine has cores to spare), each with its own temp folder; one JSON
  # report each, merged below.
  local shards=${HIPT_CHECK_TEST_SHARDS:-$(($(nproc) > 8 ? 8 : $(nproc)))} i pids=() rc=0
  for ((i = 0; i < shards; i++)); do
    mkdir -p "$WORK/tmp.$i"
    TEST_TMPDIR=$WORK/tmp.$i/ GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i HIPT_NUM_THREADS=2 \
      bin/hipt_tests --gtest_output="json:$WORK/tests.$i.json" > "$WORK/tests.$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || rc=1; done
  cat "$WORK"/tests.*.log > "$OUT/tests.log"
  grep -h -E '^\[  FAILED  \] .*\(' "$OUT/tests.log" | sort -u | head -60
  python3 device_report.py gtest "$OUT/tests.json" "$WORK"/tests.*.json >> "$OUT/summary.md" || rc=1
  return $rc
}

stage_sanitizer() {
  section "compute-sanitizer memcheck (Devices/*/cuda, no caching allocator)"
  have_gpu || no_gpu
  local cs
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2> /dev/null)
  [ -n "$cs" ] || skip "compute-sanitizer not found"
  HIPT_NO_CACHING_ALLOCATOR=1 "$cs" --tool memcheck --error-exitcode 86 --print-limit 30 \
    bin/hipt_tests --gtest_filter='Devices/*/cuda' > "$OUT/sanitizer.log" 2>&1
  local rc=$? errors
  tail -40 "$OUT/sanitizer.log"
  if grep -q -i 'device not supported\|unable to\|not supported on' "$OUT/sanitizer.log" && ! grep -q 'ERROR SUMMARY' "$OUT/sanitizer.log"; then
    skip "compute-sanitizer refused: $(grep -i -m1 'device not supported\|unable to\|not supported on' "$OUT/sanitizer.log" | tr '|' '/')"
  fi
  errors=$(grep -o 'ERROR SUMMARY: [0-9]* error' "$OUT/sanitizer.log" | tail -1)
  { say "| memcheck | gtest | exit |"; say "|---|---|---|"
    say "| ${errors:-no summary line} | $(grep -E '^\[  (PASSED|FAILED|SKIPPED)  \]' "$OUT/sanitizer.log" | tr '\n' ' ') | $rc |"; } >> "$OUT/summary.md"
  return $rc
}

stage_gemm() {
  section "GEMM (bench_cuda_gemm)"
  [ -x bin/bench_cuda_gemm ] || skip "bench_cuda_gemm is not in this bundle"
  have_gpu || no_gpu
  bin/bench_cuda_gemm --json > "$OUT/gemm.json"
  local rc=$?
  cat "$OUT/gemm.json"
  python3 device_report.py table "$OUT/gemm.json" >> "$OUT/summary.md" || rc=1
  return $rc
}

stage_models() {
  section "Models: hipt vs PyTorch on the same card (ViT-256 batch 64, one 4096² region)"
  have_gpu || no_gpu
  command -v python3 > /dev/null || skip "no python3"
  PYTHONUNBUFFERED=1 python3 bench/gpu_side_by_side.py --hipt-bench bin/bench_cuda_models --json "$OUT/models.json" \
    --markdown "$WORK/models.md"
  local rc=$?
  [ -f "$WORK/models.md" ] && cat "$WORK/models.md" >> "$OUT/summary.md"
  return $rc
}

stage_embed() {
  section "hipt embed-region, CPU vs GPU (one 2048² region of CMU-1-Small-Region.svs, formula weights)"
  have_gpu || no_gpu
  local slide=data/samples/CMU-1-Small-Region.svs d rc=0
  [ -f $slide ] || skip "no $slide in the bundle"
  python3 -c 'import torch' 2> /dev/null || skip "no PyTorch to write the checkpoints"
  bin/hipt read-region $slide --level 0 --x 0 --y 0 --width 2048 --height 2048 --out "$WORK/region.png" || return 1
  python3 bench/gpu_side_by_side.py checkpoints "$WORK" || return 1
  { say "| device | exit | last line |"; say "|---|---|---|"; } >> "$OUT/summary.md"
  for d in cpu cuda; do
    bin/hipt embed-region --image "$WORK/region.png" --vit256 "$WORK/vit256.safetensors" \
      --vit4k "$WORK/vit4k.safetensors" --device $d --out "$WORK/features_$d.safetensors" > "$WORK/embed_$d.txt" 2>&1
    local e=$?
    cat "$WORK/embed_$d.txt"
    say "| $d | $e | $(tail -1 "$WORK/embed_$d.txt" | tr '|' '/') |" >> "$OUT/summary.md"
    [ $e = 0 ] || rc=1
  done
  [ $rc = 0 ] || return 1
  say "" >> "$OUT/summary.md"
  python3 device_report.py compare "$WORK/features_cpu.safetensors" "$WORK/features_cuda.safetensors" >> "$OUT/summary.md"
}

stage_attention() {
  section "Attention: hipt bench-attention, flash vs composite; then vs PyTorch on the same card"
  have_gpu || no_gpu
  local rc=0 args
  : > "$OUT/attention.md"
  say '```' >> "$OUT/attention.md"
  for args in "--dtype f32" "--dtype bf16" "--dtype f32 --backward" "--dtype bf16 --backward"; do
    # shellcheck disable=SC2086  # args is a list of flags
    bin/hipt bench-attention --device cuda --batch 64 --heads 6 --seq 257 --dim 64 --impl all --reps 10 $args \
      >> "$OUT/attention.md" 2>&1 || rc=1
  done
  bin/hipt bench-attention --device cuda --batch 4 --heads 16 --seq 4096 --dim 64 --dtype bf16 --causal --impl all \
    --reps 5 >> "$OUT/attention.md" 2>&1 || rc=1
  say '```' >> "$OUT/attention.md"
  if python3 -c 'import torch' 2> /dev/null; then
    BIN=bin DEVICE=cuda DTYPE=bf16 REPS=1 RUNS=5 PYTHONS=python3 MARKDOWN="$OUT/attention.md" \
      SHAPES="vit256:64,6,257,64 t4096:4,16,4096,64" bash bench/attention_side_by_side.sh || rc=1
  else
    say "(no PyTorch here: no side-by-side)" >> "$OUT/attention.md"
  fi
  cat "$OUT/attention.md"
  cat "$OUT/attention.md" >> "$OUT/summary.md"
  return $rc
}

# Runs one stage under its timeout, its output into log.txt; records "name status seconds why".
run_stage() {
  local s=$1 t start rc status
  t=${STAGE_TIMEOUT[$s]}
  local var=HIPT_CHECK_TIMEOUT_${s^^}
  t=${!var:-$t}
  start=$SECONDS
  say "== $s (timeout ${t}s)" | tee -a "$OUT/log.txt"
  timeout -k 5 "$t" "$0" _stage "$s" > "$WORK/$s.out" 2>&1
  rc=$?
  cat "$WORK/$s.out" >> "$OUT/log.txt"
  case $rc in
    0) status=passed ;;
    "$SKIP") status=skipped ;;
    124 | 137) status="timed out (${t}s)" ; printf '\n(timed out after %ss)\n' "$t" >> "$OUT/summary.md" ;;
    *) status="failed ($rc)" ;;
  esac
  local why=""
  [ $rc = $SKIP ] && why=$(tail -1 "$WORK/$s.out")
  printf '%s\t%s\t%s\t%s\n' "$s" "$status" "$((SECONDS - start))" "$why" >> "$WORK/stages.tsv"
  say "   $status in $((SECONDS - start))s${why:+: $why}"
}

# cuBLAS from the machine; lib/compat where this machine's C++ runtime is older than the build's.
setup_libraries() {
  find_cublas
  if ldd bin/hipt_tests 2>&1 | grep -q 'GLIBCXX.*not found\|CXXABI.*not found\|libstdc++.*not found\|libgcc_s.*not found'; then
    export LD_LIBRARY_PATH=$PWD/lib/compat${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    say "this machine's libstdc++ is older than the build's: using lib/compat"
  fi
  if ldd bin/hipt_tests 2>&1 | grep 'not found'; then say "WARNING: libraries missing (above)"; fi
}

do_run() {
  cd "$(dirname "$0")" || die "cannot enter the bundle"
  [ -x bin/hipt_tests ] || die "no bin/hipt_tests here: run this from a bundle that tools/device_check.sh build made"
  OUT=${OUT:-./out}
  mkdir -p "$OUT" || die "cannot make $OUT"
  OUT=$(cd "$OUT" && pwd)
  WORK=$(mktemp -d /tmp/hipt-devcheck.XXXXXX) || die "mktemp failed"
  export OUT WORK
  local b
  b=$(pwd)
  export HIPT_TEST_DATA_DIR=$b/data/tests HIPT_TEST_CLI=$b/bin/hipt HIPT_TEST_PRESETS_DIR=$b/data/presets \
    HIPT_TEST_SAMPLES_DIR=$b/data/samples
  setup_libraries > "$WORK/setup.txt" 2>&1
  { say "device_check run: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores"
    cat MANIFEST
    say "glibc here: $(ldd --version | head -1)"
    cat "$WORK/setup.txt"; } | tee "$OUT/log.txt"
  printf '# hipt device check\n\n%s\n' "$(head -2 MANIFEST | sed 's/^/    /')" > "$OUT/summary.md"

  for s in "${STAGES[@]}"; do run_stage "$s"; done

  { printf '\n## Stages\n\n| stage | status | seconds | note |\n|---|---|---|---|\n'
    awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$WORK/stages.tsv"; } >> "$OUT/summary.md"
  say ""
  cat "$OUT/summary.md"
  # Failure of any stage (not a skip) fails the run.
  local failed
  failed=$(cut -f2 "$WORK/stages.tsv" | grep -c 'failed\|timed out')
  rm -rf "$WORK"
  [ "$failed" = 0 ]
}

case "${1:-}" in
  build) do_build "${2:-device-bundle}" ;;
  run) do_run ;;
  dry-run) export HIPT_CHECK_NO_GPU=1 && do_run ;;
  _stage) cd "$(dirname "$0")" && "stage_$2" ;;
  -h | --help | help) usage 0 ;;
  *) usage 1 >&2 ;;
esac
