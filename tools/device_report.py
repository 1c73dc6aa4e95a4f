#!/usr/bin/env python3
"""Markdown tables for tools/device_check.sh (standard library only: it runs wherever python3 is).

    device_report.py gtest MERGED.json SHARD.json...   merge gtest JSON reports into MERGED.json and
                                                      print the counts (all tests, and the cuda
                                                      instances of the device suites) and failures
    device_report.py table FILE                        a benchmark's JSON (JSON lines, a list, or
                                                      Google Benchmark's {"benchmarks": [...]})
    device_report.py compare A.safetensors B.safetensors
                                                      max abs difference per tensor, also divided by A's
                                                      largest magnitude; exits 1 when a tensor differs
                                                      in shape or holds NaN
"""
import json
import math
import struct
import sys
from array import array


def gtest(merged_path, shard_paths):
    suites, counts, cuda, failed = [], {}, {}, []
    for path in shard_paths:
        with open(path) as f:
            report = json.load(f)
        for suite in report.get("testsuites", []):
            suites.append(suite)
            for t in suite.get("testsuite", []):
                name = f"{suite['name']}.{t['name']}"
                if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
                    result = "skipped"
                elif t.get("failures"):
                    result = "failed"
                    failed.append(name)
                else:
                    result = "passed"
                counts[result] = counts.get(result, 0) + 1
                if name.endswith("/cuda"):
                    cuda[result] = cuda.get(result, 0) + 1
    with open(merged_path, "w") as f:
        json.dump({"testsuites": suites}, f, indent=1)
    print("| tests | passed | failed | skipped |")
    print("|---|---|---|---|")
    for what, c in (("all", counts), ("cuda instances (Devices/*/cuda)", cuda)):
        print(f"| {what} | {c.get('passed', 0)} | {c.get('failed', 0)} | {c.get('skipped', 0)} |")
    if failed:
        print("\nFailed: " + ", ".join(f"`{n}`" for n in sorted(failed)[:40]) + (" ..." if len(failed) > 40 else ""))
    return 1 if failed or not counts else 0


def load_records(path):
    with open(path) as f:
        text = f.read().strip()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
    if isinstance(doc, dict):
        doc = doc.get("benchmarks", doc.get("results", [doc]))
    return [r for r in doc if isinstance(r, dict)]


def table(path):
    records = load_records(path)
    if not records:
        print("| no results |")
        return 1
    keys = []
    for r in records:
        keys += [k for k, v in r.items() if k not in keys and not isinstance(v, (dict, list))]
    keys = keys[:12]

    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in records:
        print("| " + " | ".join(cell(r.get(k)) for k in keys) + " |")
    return 0


_FORMATS = {"F32": ("f", 4), "F64": ("d", 8), "I32": ("i", 4), "I64": ("q", 8), "U8": ("B", 1)}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if info["dtype"] == "BF16":  # the upper half of an f32
            raw = array("H", data[begin:end])
            values = array("f", struct.pack(f"<{len(raw)}I", *[v << 16 for v in raw]))
        else:
            code, _ = _FORMATS[info["dtype"]]
            values = array(code, data[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        tensors[name] = (info["shape"], values)
    return tensors


def compare(path_a, path_b):
    a, b = read_safetensors(path_a), read_safetensors(path_b)
    print("| tensor | shape | max abs diff | ÷ max abs value | max abs value |")
    print("|---|---|---|---|---|")
    bad = 0
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b or a[name][0] != b[name][0]:
            print(f"| {name} | differs: {a.get(name, ('missing',))[0]} vs {b.get(name, ('missing',))[0]} | | | |")
            bad = 1
            continue
        shape, x = a[name]
        y = b[name][1]
        scale = max((abs(v) for v in x), default=0.0)
        diff = max((abs(u - v) for u, v in zip(x, y)), default=0.0)
        nan = any(math.isnan(v) for v in y) or any(math.isnan(v) for v in x)
        rel = diff / scale if scale > 0 else diff
        print(f"| {name} | {shape} | {'NaN' if nan else f'{diff:.3g}'} | {rel:.3g} | {scale:.3g} |")
        bad |= nan
    return bad


def main(argv):
    if len(argv) >= 3 and argv[1] == "gtest":
        return gtest(argv[2], argv[3:])
    if len(argv) == 3 and argv[1] == "table":
        return table(argv[2])
    if len(argv) == 4 and argv[1] == "compare":
        return compare(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
