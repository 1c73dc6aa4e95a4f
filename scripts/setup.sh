#!/usr/bin/env bash
# Installs every Debian 12 package hipt needs to build, test and benchmark. Idempotent; run as
# root on a fresh machine (it skips apt entirely when everything is already there).
# The parity-fixture scripts additionally need Debian's PyTorch: pass --fixtures.
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache
  libgtest-dev libgmock-dev libbenchmark-dev   # tests and benchmarks
  libfmt-dev                                   # the engine's only dependency besides the C++ library
  libcli11-dev                                 # the command line
  libopenblas-dev                              # the GEMM benchmark's side-by-side peer
  pkg-config nlohmann-json3-dev                # io/: finding OpenJPEG; safetensors headers, JSON output
  libtiff-dev libjpeg62-turbo-dev libopenjp2-7-dev   # io/: slides (TIFF, JPEG, Aperio JPEG 2000)
  libpng-dev libzip-dev                        # io/: PNG images, PyTorch .pth checkpoints (zip)
  libopenslide-dev libvips-tools               # tests and benchmarks only: reference slide readers
  libhdf5-dev                                  # io/: CLAM's patch coordinates (.h5), hipt embed --coords
  libopenmpi-dev openmpi-bin                   # hipt/pipeline/shard: mpirun -np K hipt embed (optional: -DHIPT_WITH_MPI=OFF)
)
if [[ "${1:-}" == "--fixtures" ]]; then
  packages+=(python3-torch python3-numpy)
  packages+=(python3-opencv python3-openslide)   # scripts/make_tissue_fixture.py
  packages+=(python3-h5py python3-matplotlib python3-scipy)   # make_coords_fixture.py, heatmap references
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: missing packages (${missing[*]}); run this script as root" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: all packages present"
