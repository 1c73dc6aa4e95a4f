#!/usr/bin/env bash
# Builds and runs the whole test suite twice: the normal (Release, CUDA when nvcc exists) build,
# then an AddressSanitizer + UndefinedBehaviorSanitizer build without CUDA that skips the tests
# named *Heavy* (large shapes that take minutes under the sanitizers). In between, the Release
# build is installed into a temporary prefix and examples/consumer is built and run against it.
# Last, a ThreadSanitizer build (no CUDA, no MPI) runs the tests labelled `threads`.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# ccache hashes paths inside this checkout as relative ones, so a fresh clone in another folder (as
# CI makes for every run) reuses what an earlier build compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR=1

cuda_flag=()
[[ -x /usr/local/cuda/bin/nvcc ]] && cuda_flag=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)

echo "== release build"
cmake -S . -B build -G Ninja -DHIPT_WERROR=ON "${cuda_flag[@]}" >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

echo "== install, then examples/consumer against the installed package"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install build --prefix "$scratch/prefix" >/dev/null
cmake -S examples/consumer -B "$scratch/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DHIPT_TESTS_DIR="$PWD/tests" >/dev/null
cmake --build "$scratch/consumer"
"$scratch/consumer/hipt_consumer" tests/data/vit256_patch.safetensors "$scratch/vit256.safetensors"

echo "== sanitizer build (address, undefined)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHIPT_SANITIZE=ON \
  -DHIPT_WITH_CUDA=OFF -DHIPT_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$jobs" -E Heavy)

echo "== thread sanitizer build (the tests labelled threads)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHIPT_SANITIZE_THREAD=ON \
  -DHIPT_WITH_CUDA=OFF -DHIPT_WITH_MPI=OFF -DHIPT_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target hipt_tests hipt_cli
(cd build-tsan && ctest --output-on-failure -j "$jobs" -L threads)
