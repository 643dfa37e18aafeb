#!/usr/bin/env python3
"""What the Python module costs over the C++ API, measured side by side in one run.

  PYTHONPATH=build/release/python python3 tools/bench/python_overhead.py MODEL.encore \
      [--bench build/release/tools/bench/encore-bench] [--run build/release/tools/run/encore-run]

1. Call overhead: Session.run from Python vs encore-bench (the C++ API) on the same model,
   batch 1, seq 16 and 128, one thread; each side timed in turn, --rounds times, medians.
2. Text throughput: Session.encode on --texts short texts (words drawn from the system word
   list with a fixed seed) vs `encore-run --text-file` on the same texts, same batch size,
   whole runs timed (encore-run's includes loading the model, the module's does not).
Prints the CPU (encore.describe_cpu) and a table; nothing is asserted (benchmarks are not tests).
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import encore


def python_latency(session, ids, min_time):
    for _ in range(20):
        session.run(ids)
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 50:
        t0 = time.perf_counter()
        session.run(ids)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_latency(bench, model, seq, min_time):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([bench, model, "--seq", str(seq), "--batch", "1", "--threads", "1", "--warmup", "20",
                        "--min-time", str(min_time), "--json", f.name], check=True, capture_output=True)
        report = json.load(open(f.name))
    return report["shapes"][0]["steady"]["median_ms"] / 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "release", "tools")
    ap.add_argument("--bench", default=os.path.join(here, "bench", "encore-bench"))
    ap.add_argument("--run", default=os.path.join(here, "run", "encore-run"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--texts", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--words", default="/usr/share/dict/words")
    a = ap.parse_args()

    print(f"CPU: {encore.describe_cpu()['summary']}")
    model = encore.Model(a.model)
    print(f"model: {model!r}")
    session = model.session(threads=1)
    rng = np.random.default_rng(0)
    print("\n| batch x seq | C++ (encore-bench) ms | Python Session.run ms | overhead us | ratio |")
    print("|---|---|---|---|---|")
    for seq in (16, 128):
        ids = rng.integers(1000, model.config["vocab_size"], size=(1, seq)).astype(np.int32)
        cpp, py = [], []
        for _ in range(a.rounds):
            cpp.append(bench_latency(a.bench, a.model, seq, a.min_time))
            py.append(python_latency(session, ids, a.min_time))
        c, p = statistics.median(cpp), statistics.median(py)
        print(f"| 1 x {seq} | {1000 * c:.3f} | {1000 * p:.3f} | {1e6 * (p - c):.1f} | {p / c:.3f} |")

    words = [w.strip() for w in open(a.words, encoding="utf-8") if w.strip().isalpha() and "'" not in w]
    pick = random.Random(1)
    texts = [" ".join(pick.choice(words) for _ in range(pick.randint(4, 12))) for _ in range(a.texts)]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "texts.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(texts) + "\n")
        cli, mod = [], []
        text_session = model.session(threads=1)
        text_session.encode(texts[:64], batch_size=a.batch_size, pooling="mean")
        for _ in range(a.rounds):
            t0 = time.perf_counter()
            subprocess.run([a.run, a.model, "--text-file", path, "--batch-size", str(a.batch_size), "--pooling", "mean"],
                           check=True, stdout=subprocess.DEVNULL)
            cli.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            text_session.encode(texts, batch_size=a.batch_size, pooling="mean")
            mod.append(time.perf_counter() - t0)
    c, m = statistics.median(cli), statistics.median(mod)
    print(f"\n{a.texts} texts of 4-12 words, batch {a.batch_size}, one thread, medians of {a.rounds}:")
    print(f"  encore-run --text-file (JSON lines out): {c:.2f} s, {a.texts / c:.0f} texts/s")
    print(f"  Session.encode (NumPy out):              {m:.2f} s, {a.texts / m:.0f} texts/s ({c / m:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
