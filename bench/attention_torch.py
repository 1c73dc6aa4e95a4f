#!/usr/bin/python3
"""PyTorch peer of `hipt bench-attention`: F.scaled_dot_product_attention and PyTorch's own
matmul-softmax-matmul on one [B, H, T, D] shape, inputs uniform in [-1, 1).

    python bench/attention_torch.py --batch B --heads H --seq T --dim D [--dtype f32|bf16]
        [--device cpu|cuda] [--causal] [--backward] [--reps N] [--warmup N] [--threads N]

Prints one line per implementation, "<name> <median ms>": sdpa and matmul_softmax_matmul. A torch
without scaled_dot_product_attention (before 2.0) prints "sdpa -". Times are CUDA events on a GPU,
wall clock on the CPU; --backward times out.backward(g) alone, after an untimed forward. The torch
version, its threads and whether it has SDPA go to stderr as one line.
"""
import argparse
import os
import statistics
import sys
import time


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    p.add_argument("--device", default="cpu")
    p.add_argument("--causal", action="store_true")
    p.add_argument("--backward", action="store_true")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    return p.parse_args()


args = parse()
if args.threads:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

if args.threads:
    torch.set_num_threads(args.threads)
device = torch.device(args.device)
dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
if device.type == "cuda":
    torch.backends.cuda.matmul.allow_tf32 = False  # f32 means f32, as in hipt
has_sdpa = hasattr(F, "scaled_dot_product_attention")
scale = args.dim ** -0.5


def matmul_softmax_matmul(q, k, v):
    s = torch.matmul(q, k.transpose(-2, -1)) * scale
    if args.causal:
        t_q, t_k = s.shape[-2], s.shape[-1]
        mask = torch.ones(t_q, t_k, dtype=torch.bool, device=s.device).triu(1)
        s = s.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v)


def sdpa(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=args.causal)


def elapsed_ms(fn):
    if device.type == "cuda":
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop)
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def median_ms(attend):
    torch.manual_seed(0)
    shape = (args.batch, args.heads, args.seq, args.dim)
    q, k, v, g = ((torch.rand(shape, device=device) * 2 - 1).to(dtype) for _ in range(4))
    times = []
    for rep in range(args.warmup + args.reps):
        if args.backward:
            leaves = [x.detach().requires_grad_() for x in (q, k, v)]
            out = attend(*leaves)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = elapsed_ms(lambda: out.backward(g))
        else:
            with torch.no_grad():
                t = elapsed_ms(lambda: attend(q, k, v))
        if rep >= args.warmup:
            times.append(t)
    return statistics.median(times)


def main():
    print(f"sdpa {median_ms(sdpa):.6f}" if has_sdpa else "sdpa -", flush=True)
    print(f"matmul_softmax_matmul {median_ms(matmul_softmax_matmul):.6f}", flush=True)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} sdpa {'yes' if has_sdpa else 'no'}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
