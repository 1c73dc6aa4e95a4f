"""The results of a side-by-side run (bench/*_side_by_side.sh): hipt's Google Benchmark JSON files
hipt_<threads>_<rep>.json and each PyTorch's "name value" lines torch<i>_<threads>_<rep>.txt (with its
version on torch<i>_<threads>.version), reduced to the best value per (who, stage, threads)."""
import glob
import json
import os


def best_results(out, threads, names, counter):
    """names: Google Benchmark name (min_time:/real_time parts dropped) -> stage; counter: the hipt
    counter to read. Returns (best, peers, label): best[(who, stage, threads)] = the highest value,
    who = "hipt" or a peer; peers in order; label[peer] = "torch <version>"."""
    best = {}
    for path in glob.glob(os.path.join(out, "hipt_*.json")):
        t = os.path.basename(path).split("_")[1]
        for b in json.load(open(path))["benchmarks"]:
            name = "/".join(p for p in b["name"].split("/") if not p.startswith(("min_time:", "real_time")))
            if name in names:
                k = ("hipt", names[name], t)
                best[k] = max(best.get(k, 0), b[counter])
    peers = sorted({os.path.basename(p).split("_")[0] for p in glob.glob(os.path.join(out, "torch*_*.txt"))})
    for path in glob.glob(os.path.join(out, "torch*_*.txt")):
        peer, t = os.path.basename(path).split("_")[:2]
        for line in open(path):
            name, v = line.split()
            best[(peer, name, t)] = max(best.get((peer, name, t), 0), float(v))
    label = {}
    for p in peers:
        txt = open(os.path.join(out, f"{p}_{threads[0]}.version")).read().split()
        label[p] = "torch " + (txt[1] if len(txt) > 1 else "?")
    return best, peers, label
