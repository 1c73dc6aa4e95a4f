#!/usr/bin/env bash
# ViT-256 batch 16, hipt (bench_vit) vs PyTorch (bench/vit_torch.py), forward and training step,
# at 1 and 2 threads. The two run alternately REPS times so both see the same background load; the
# table shows the best img/s of each and the ratio hipt/PyTorch.
#
#   bench/vit_side_by_side.sh                          # from the repo root, after building bench_vit
#   REPS=3 MIN_TIME=3 THREADS="2" bench/vit_side_by_side.sh
#   PYTHONS="/usr/bin/python3 /work/venv-torch/bin/python" bench/vit_side_by_side.sh   # several torches
set -euo pipefail
BIN=${BIN:-build/bin}
REPS=${REPS:-2}
MIN_TIME=${MIN_TIME:-3}
THREADS=${THREADS:-"1 2"}
PYTHONS=${PYTHONS:-/usr/bin/python3}
source "$(dirname "$0")/side_by_side_lib.sh"
side_by_side_setup bench_vit
run_alternately "--benchmark_min_time=$MIN_TIME" "$here/vit_torch.py" "$MIN_TIME"

HERE=$here python3 - "$out" "$THREADS" <<'PY'
import os, sys
sys.path.insert(0, os.environ["HERE"])
from peer_results import best_results

out, threads = sys.argv[1], sys.argv[2].split()
names = {"BM_Vit256Forward": "forward", "BM_Vit256TrainStep": "train_step"}
best, peers, label = best_results(out, threads, names, "img/s")
head = "| benchmark | threads | hipt img/s | " + " | ".join(f"{label[p]} img/s | hipt/{label[p]}" for p in peers) + " |"
print(head)
print("|" + "---|" * (head.count("|") - 1))
for name in ("forward", "train_step"):
    for t in threads:
        h = best.get(("hipt", name, t), 0)
        cells = []
        for p in peers:
            v = best.get((p, name, t), 0)
            cells += [f"{v:.2f}", f"{h / v:.2f}x" if v else "-"]
        print(f"| {name} | {t} | {h:.2f} | " + " | ".join(cells) + " |")
PY
