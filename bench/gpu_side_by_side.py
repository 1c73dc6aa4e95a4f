#!/usr/bin/env python3
"""hipt's bench_cuda_models next to PyTorch on the same card and the same shapes.

    python3 bench/gpu_side_by_side.py [--hipt-bench build/bin/bench_cuda_models] [--device cuda]
        [--rounds 2] [--iters 10] [--warmup 3] [--batch 64] [--json OUT.json] [--markdown OUT.md]
    python3 bench/gpu_side_by_side.py checkpoints DIR

Benchmarks (both sides time a run with a host clock, the run ending by copying its small output to
the host, and report the median of --iters runs after --warmup):
  vit256_forward  ViT-256 (vit_small, patch 16) on a batch of --batch 256-px patches
  region_forward  one 4096² region's model part: ViT-256 over its 256 patches in batches of --batch,
                  the [CLS] features as a 16x16 grid, ViT-4K on the grid
Precisions: f32 (TF32 off), tf32 (TF32 matmuls and convolutions), bf16 (autocast to bfloat16).
Each round runs hipt (a child process per precision), then PyTorch, so that the two alternate on the
card; the table gives the median over rounds and hipt's time over PyTorch's. A precision hipt does
not support shows as n/a.

The PyTorch models are scripts/make_vit_fixtures.py's (imported: one definition for the fixtures, the
CPU side by side and this). Random weights: values do not change the speed.

`checkpoints DIR` writes DIR/vit256.safetensors and DIR/vit4k.safetensors with that script's formula
weights, for `hipt embed-region` (tools/device_check.sh's embed stage).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))

PRECISIONS = ("f32", "tf32", "bf16")
BENCHES = ("vit256_forward", "region_forward")
GRID = 16  # a 4096² region is 16x16 patches of 256


def write_checkpoints(out_dir):
    import make_vit_fixtures as fx

    os.makedirs(out_dir, exist_ok=True)
    for name, model in (("vit256", fx.VisionTransformer()), ("vit4k", fx.VisionTransformer4K())):
        fx.formula_weights(model)
        path = os.path.join(out_dir, name + ".safetensors")
        fx.write_safetensors(path, dict(model.state_dict()))
        print(f"wrote {path}")


# ----------------------------------------------------------------------------------------- PyTorch
class TorchSide:
    def __init__(self, device, batch):
        import torch
        from make_vit_fixtures import VisionTransformer, VisionTransformer4K

        self.torch, self.device, self.batch = torch, torch.device(device), batch
        torch.manual_seed(0)
        self.vit256 = VisionTransformer().eval().to(self.device)
        self.vit4k = VisionTransformer4K().eval().to(self.device)
        self.batches = [torch.rand(batch, 3, 256, 256, device=self.device) * 2 - 1 for _ in range(GRID * GRID // batch)]
        self.card = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"

    def vit256_forward(self):
        return self.vit256(self.batches[0], False)[0]

    def region_forward(self):
        features = self.torch.cat([self.vit256(b, False)[0] for b in self.batches])  # [256, 384]
        grid = features.reshape(1, GRID, GRID, 384).permute(0, 3, 1, 2).contiguous()
        return self.vit4k(grid, False)[0]

    def run(self, bench, precision, iters, warmup):
        torch = self.torch
        tf32 = precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        fn = getattr(self, bench)

        def once():
            with torch.no_grad(), torch.autocast(self.device.type, torch.bfloat16, enabled=precision == "bf16"):
                return fn().float().cpu()

        for _ in range(warmup):
            once()
        ms = []
        for _ in range(iters):
            start = time.perf_counter()
            once()
            ms.append((time.perf_counter() - start) * 1000)
        images = self.batch if bench == "vit256_forward" else GRID * GRID
        med = statistics.median(ms)
        return {"bench": bench, "impl": "torch", "device": self.device.type, "card": self.card,
                "precision": precision, "batch": self.batch, "iters": iters, "median_ms": med, "min_ms": min(ms),
                "img_per_s": 1000 * images / med, "torch": torch.__version__}


# -------------------------------------------------------------------------------------------- hipt
def hipt_run(exe, device, precision, args):
    cmd = [exe, "--device", device, "--precision", precision, "--batch", str(args.batch), "--iters",
           str(args.iters), "--warmup", str(args.warmup), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    records = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode == 3:  # a precision hipt does not have
        return [dict(r, bench=b) for r in records for b in BENCHES]
    if p.returncode != 0:
        why = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
        print(f"hipt {precision}: {why}", file=sys.stderr)
        return [{"bench": b, "impl": "hipt", "precision": precision, "status": "error", "why": why} for b in BENCHES]
    return records


def markdown(results, rounds):
    def med(impl, bench, precision):
        ms = [r["median_ms"] for r in results
              if r["impl"] == impl and r["bench"] == bench and r["precision"] == precision and "median_ms" in r]
        return statistics.median(ms) if ms else None

    def note(impl, bench, precision):
        for r in results:
            if r["impl"] == impl and r["bench"] == bench and r["precision"] == precision and "status" in r:
                return r["status"]
        return "n/a"

    cards = sorted({r.get("card") for r in results if r.get("card")})
    lines = [f"Card: {', '.join(cards) or 'unknown'}; median over {rounds} alternating rounds, each the median of "
             "its runs.", "",
             "| bench | precision | hipt ms | PyTorch ms | hipt / PyTorch |", "|---|---|---|---|---|"]
    for bench in BENCHES:
        for precision in PRECISIONS:
            h, t = med("hipt", bench, precision), med("torch", bench, precision)
            hs = f"{h:.3f}" if h is not None else note("hipt", bench, precision)
            ts = f"{t:.3f}" if t is not None else note("torch", bench, precision)
            ratio = f"{h / t:.2f}" if h is not None and t else ""
            lines.append(f"| {bench} | {precision} | {hs} | {ts} | {ratio} |")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "checkpoints":
        write_checkpoints(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hipt-bench", default="build/bin/bench_cuda_models")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--json", help="all results, one object each")
    ap.add_argument("--markdown", help="the table")
    args = ap.parse_args()

    try:
        import torch
    except ImportError as e:
        print(f"skipped: no PyTorch ({e})")
        return 77
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: PyTorch sees no GPU")
        return 77
    side = TorchSide(args.device, args.batch)
    precisions = args.precisions.split(",")
    results = []
    for r in range(args.rounds):
        for precision in precisions:
            results += hipt_run(args.hipt_bench, args.device, precision, args)
            for bench in BENCHES:
                results.append(side.run(bench, precision, args.iters, args.warmup))
            print(f"round {r + 1}/{args.rounds} {precision} done", flush=True)
    table = markdown(results, args.rounds)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    failed = any(r.get("status") == "error" for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
