#!/usr/bin/env bash
# Attention, hipt (`hipt bench-attention --impl all --json`: composite and fused on the CPU,
# composite and flash on a GPU) vs PyTorch (bench/attention_torch.py: F.scaled_dot_product_attention
# and PyTorch's own matmul-softmax-matmul) on the same shapes, dtype and device. The two run
# alternately REPS times so both see the same background load; each run reports the median of RUNS
# timed calls, and the table shows the best median of each with the speed ratios (torch ms / hipt
# ms: above 1, hipt's best implementation is faster). A torch without SDPA (before 2.0) is said so.
#
#   bench/attention_side_by_side.sh                    # from the repo root, after building hipt
#   DEVICE=cuda DTYPE=bf16 bench/attention_side_by_side.sh
#   SHAPES="vit256:64,6,257,64 t4096:4,16,4096,64" CAUSAL=1 BACKWARD=1 bench/attention_side_by_side.sh
#   PYTHONS="/usr/bin/python3 /work/venv-torch/bin/python" THREADS=2 bench/attention_side_by_side.sh
#
# Shapes (name:B,H,T,D): ViT-256 (64, 6, 257, 64) and ViT-4K (64, 6, 257, 32), and T = 1024 and
# 4096 with B·H = 256 and 64 on a GPU (enough blocks to fill an H100/H200), 6 and 2 on the CPU.
# MARKDOWN=FILE also writes the table there.
set -euo pipefail
BIN=${BIN:-build/bin}
HIPT=${HIPT:-$BIN/hipt}
DEVICE=${DEVICE:-cpu}
DTYPE=${DTYPE:-f32}
REPS=${REPS:-3}
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
CAUSAL=${CAUSAL:-0}
BACKWARD=${BACKWARD:-0}
THREADS=${THREADS:-}
PYTHONS=${PYTHONS:-/usr/bin/python3}
MARKDOWN=${MARKDOWN:-}
if [ "$DEVICE" = cpu ]; then
  SHAPES=${SHAPES:-"vit256:64,6,257,64 vit4k:64,6,257,32 t1024:1,6,1024,64 t4096:1,2,4096,64"}
else
  SHAPES=${SHAPES:-"vit256:64,6,257,64 vit4k:64,6,257,32 t1024:16,16,1024,64 t4096:4,16,4096,64"}
fi

[ -x "$HIPT" ] || { echo "error: no $HIPT: build hipt first (cmake --build build)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

flags=(--device "$DEVICE" --dtype "$DTYPE" --reps "$RUNS" --warmup "$WARMUP")
[ "$CAUSAL" = 1 ] && flags+=(--causal)
[ "$BACKWARD" = 1 ] && flags+=(--backward)
threads=() env=()
[ -n "$THREADS" ] && threads=(--threads "$THREADS") env=(HIPT_NUM_THREADS="$THREADS")

echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$REPS"); do
  for shape in $SHAPES; do
    name=${shape%%:*}
    IFS=, read -r B H T D <<< "${shape#*:}"
    dims=(--batch "$B" --heads "$H" --seq "$T" --dim "$D")
    env "${env[@]}" "$HIPT" bench-attention "${dims[@]}" "${flags[@]}" \
      --impl all --json > "$out/hipt_${name}_${rep}.json"
    i=0
    for py in $PYTHONS; do
      i=$((i + 1))
      "$py" "$here/attention_torch.py" "${dims[@]}" "${flags[@]}" "${threads[@]}" \
        > "$out/torch${i}_${name}_${rep}.txt" 2> "$out/torch${i}.version" ||
        echo "failed" > "$out/torch${i}_${name}_${rep}.txt"
    done
  done
done
echo "end:   $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$SHAPES" "$MARKDOWN" <<'PY'
import glob, json, os, sys

out, shapes, markdown = sys.argv[1], sys.argv[2].split(), sys.argv[3]
names = [s.split(":")[0] for s in shapes]
dims = {s.split(":")[0]: s.split(":")[1] for s in shapes}

hipt, meta = {}, None  # hipt[(shape, impl)] = best median ms
for path in glob.glob(os.path.join(out, "hipt_*.json")):
    shape = os.path.basename(path)[len("hipt_"):].rsplit("_", 1)[0]
    j = json.load(open(path))
    meta = meta or j
    for r in j["results"]:
        k = (shape, r["impl"])
        hipt[k] = min(hipt.get(k, float("inf")), r["median_ms"])
impls = sorted({k[1] for k in hipt}, key=["composite", "fused", "flash"].index)

peers = sorted({os.path.basename(p).split("_")[0] for p in glob.glob(os.path.join(out, "torch*_*.txt"))})
torch, label, no_sdpa = {}, {}, []
for p in peers:
    v = open(os.path.join(out, f"{p}.version")).read().split()
    label[p] = "torch " + (v[1] if len(v) > 1 and v[0] == "torch" else "?")
    if "sdpa" in v and v[v.index("sdpa") + 1] == "no":
        no_sdpa.append(label[p])
for path in glob.glob(os.path.join(out, "torch*_*.txt")):
    peer, rest = os.path.basename(path)[:-4].split("_", 1)
    shape = rest.rsplit("_", 1)[0]
    for line in open(path):
        parts = line.split()
        if len(parts) == 2 and parts[1] != "-":
            k = (peer, shape, parts[0])
            torch[k] = min(torch.get(k, float("inf")), float(parts[1]))

def ms(v):
    return f"{v:.3f}" if v is not None and v != float("inf") else "-"

def ratio(t, h):
    return f"{t / h:.2f}x" if t and h and t != float("inf") else "-"

head = ["shape", "B,H,T,D"] + [f"hipt {i} ms" for i in impls]
for p in peers:
    head += [f"{label[p]} sdpa ms", f"{label[p]} msm ms", f"vs sdpa", f"vs msm"]
lines = [f"attention {meta['pass'] if meta else '?'} {meta['dtype'] if meta else '?'}"
         f"{' causal' if meta and meta['causal'] else ''} on {meta['device'] if meta else '?'}"
         f" ({meta['device_name'] if meta else '?'}); best median ms; vs: torch ms / hipt's best ms", "",
         "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
for s in names:
    row = [s, dims[s]] + [ms(hipt.get((s, i))) for i in impls]
    best = min((hipt[(s, i)] for i in impls if (s, i) in hipt), default=None)
    for p in peers:
        sd, mm = torch.get((p, s, "sdpa")), torch.get((p, s, "matmul_softmax_matmul"))
        row += [ms(sd) if sd else ("not in this torch" if label[p] in no_sdpa else "-"), ms(mm),
                ratio(sd, best), ratio(mm, best)]
    lines.append("| " + " | ".join(row) + " |")
for l in no_sdpa:
    lines.append(f"\nSDPA: not in this torch ({l}); compared with its matmul-softmax-matmul only")
text = "\n".join(lines)
print(text)
if markdown:
    with open(markdown, "a") as f:
        f.write(text + "\n")
PY
