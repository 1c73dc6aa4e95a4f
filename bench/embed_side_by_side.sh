#!/usr/bin/env bash
# One 4096² region through HIPT-4K: hipt (bench_embed) vs PyTorch (bench/hipt4k_torch.py), split
# into ViT-256 (256 patches, batch 64), ViT-4K (16x16 grid) and the whole region encoder, plus
# hipt's decode times (20x and 40x reads; PyTorch has no slide reader to compare). hipt and each
# PyTorch alternate REPS times so all see the same background load; the table shows the best
# regions/s of each and the ratio hipt / PyTorch (> 1: hipt is faster).
#
#   bench/embed_side_by_side.sh                   # from the repo root, after building bench_embed
#   REPS=2 THREADS="1 2" PYTHONS="/usr/bin/python3 /work/venv-torch/bin/python" bench/embed_side_by_side.sh
set -euo pipefail
BIN=${BIN:-build/bin}
REPS=${REPS:-1}
THREADS=${THREADS:-"1 2"}
PYTHONS=${PYTHONS:-/usr/bin/python3}
FILTER=${FILTER:-"Decode|Vit|RegionEncoder"}  # bench_embed cases (the synthetic-slide ones are not region stages)
source "$(dirname "$0")/side_by_side_lib.sh"
side_by_side_setup bench_embed
run_alternately "--benchmark_filter=$FILTER" "$here/hipt4k_torch.py"

HERE=$here python3 - "$out" "$THREADS" <<'PY'
import os, sys
sys.path.insert(0, os.environ["HERE"])
from peer_results import best_results

out, threads = sys.argv[1], sys.argv[2].split()
names = {"BM_Decode/20x": "decode_20x", "BM_Decode/40x": "decode_40x", "BM_Vit256Patches": "vit256_patches",
         "BM_Vit4kGrid": "vit4k_grid", "BM_RegionEncoder": "region_encoder"}
best, peers, label = best_results(out, threads, names, "regions/s")
head = "| stage | threads | hipt s/region | " + " | ".join(f"{label[p]} s/region | hipt/{label[p]}" for p in peers) + " |"
print(head)
print("|" + "---|" * (head.count("|") - 1))
for name in ("decode_20x", "decode_40x", "vit256_patches", "vit4k_grid", "region_encoder"):
    for t in threads:
        h = best.get(("hipt", name, t), 0)
        cells = []
        for p in peers:
            v = best.get((p, name, t), 0)
            cells += [f"{1 / v:.3f}" if v else "-", f"{h / v:.2f}x" if v and h else "-"]
        print(f"| {name} | {t} | {1 / h:.3f} | " + " | ".join(cells) + " |" if h else f"| {name} | {t} | - |")
PY
