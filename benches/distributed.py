#!/usr/bin/env python3
"""Data-parallel scaling on this machine: one process against `mpirun -np 2` (cargo feature
`mpi`), CPU path unless --device says otherwise, same data, model and epochs, in interleaved rounds (this VM's speed drifts
between runs, so only configurations measured side by side in one round are compared).

Per model, each round runs: 1 process with batch b, 1 process with batch 2b (the same global
batch as 2 ranks), 2 ranks x batch b, and 2 ranks x batch b with 0.1 MB gradient buckets
(--bucket-mb: the all-reduce overlapped with the backward pass). Prints samples/s (training rows
/ training seconds, as `downhill train --json` reports), the per-round ratios and their medians,
and what the all-reduce moved and cost.

    cargo build --release --features mpi && python3 benches/distributed.py [--data DIR] [--epochs 1] [--rounds 3] [--device cpu]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "downhill")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
CONFIGS = {  # name: (ranks, batch multiple, extra flags)
    "1 x b": (1, 1, ()),
    "1 x 2b": (1, 2, ()),
    "2 x b": (2, 1, ()),
    "2 x b, buckets": (2, 1, ("--bucket-mb", "0.1")),
}


def train(ranks, model, batch, data, epochs, device, out, extra=()):
    args = [BIN, "train", "--data", data, "--model", model, "--epochs", str(epochs), "--device", device,
            "--json", "--overwrite", "--batch-size", str(batch), "--out", out, *extra]
    if ranks > 1:
        args = ["mpirun", "--oversubscribe", "-np", str(ranks), *args, "--distributed"]
    done = subprocess.run(args, env=ENV, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/mnist")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu", help="what every rank trains on (cpu, gpu, an adapter)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for model, b in [("mlp", 64), ("cnn", 32)]:
            runs = {name: [] for name in CONFIGS}
            last = {}
            for r in range(a.rounds):
                for name, (ranks, times, extra) in CONFIGS.items():
                    out = os.path.join(tmp, name.replace(" ", "").replace(",", ""))
                    d = train(ranks, model, b * times, a.data, a.epochs, a.device, out, extra)
                    runs[name].append(d["samples_per_s"])
                    last[name] = d
                print(f"{model} round {r + 1}: " + ", ".join(f"{n} {v[-1]:,.0f}" for n, v in runs.items()), flush=True)
            med = {n: statistics.median(v) for n, v in runs.items()}

            def ratio(x, y):
                return statistics.median(p / q for p, q in zip(runs[x], runs[y]))

            print(f"{model} (b {b}) median samples/s: " + ", ".join(f"{n} {v:,.0f}" for n, v in med.items()))
            print(f"{model}: 2 ranks vs 1 x b {ratio('2 x b', '1 x b'):.2f}x, vs 1 x 2b {ratio('2 x b', '1 x 2b'):.2f}x, "
                  f"buckets vs one all-reduce {ratio('2 x b, buckets', '2 x b'):.3f}x (medians of the per-round ratios)")
            one, split = last["2 x b"]["all_reduce"], last["2 x b, buckets"]["all_reduce"]
            print(f"{model}: {one['bytes'] / 1e6:.2f} MB all-reduced per step, {one['calls']} steps; in the collective "
                  f"{one['collective_s']:.2f} s (one all-reduce) vs {split['collective_s']:.2f} s waiting after the "
                  f"backward pass ({split['buckets']} buckets); read-back {one['read_s']:.2f} s, write {one['write_s']:.2f} s")


if __name__ == "__main__":
    main()
