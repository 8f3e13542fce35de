#!/usr/bin/env python3
"""Trains downhill's `cnn` preset in PyTorch and in downhill on the same data, one after the
other on this machine, and prints samples/s for both and their ratio.

The PyTorch side mirrors `downhill train --model cnn` with its defaults: pixels / 255, then one
global standardisation fitted on the training images (normalization "scalar"), Adam(lr=1e-3),
CosineAnnealingLR over every step (eta_min 0), batch 64, a fresh shuffle per epoch, PyTorch's
default init, cross-entropy. Samples/s counts training steps only (evaluation excluded), as
downhill's metrics do.

    python3 benches/cnn_pytorch.py --data ../shared/data/mnist --epochs 1 \
        --downhill target/release/downhill

Needs torch and numpy. --threads defaults to every core (downhill's GEMM uses them all too).
"""

import argparse
import gzip
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{folder}: no {stem}[.gz]")


def load(folder):
    xs = [read_idx(find(folder, f"{s}-images-idx3-ubyte")).astype(np.float32) / 255.0 for s in ("train", "t10k")]
    ys = [read_idx(find(folder, f"{s}-labels-idx1-ubyte")).astype(np.int64) for s in ("train", "t10k")]
    mean, std = xs[0].mean(dtype=np.float64), xs[0].std(dtype=np.float64)
    xs = [((x - mean) / std).astype(np.float32)[:, None, :, :] for x in xs]
    return [torch.from_numpy(x) for x in xs], [torch.from_numpy(y) for y in ys]


def cnn(classes):
    """downhill's `cnn` preset (src/nn/spec.rs, PRESETS)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, classes),
    )


def torch_run(data, epochs, batch, seed):
    (xtr, xte), (ytr, yte) = data
    torch.manual_seed(seed)
    model = cnn(int(ytr.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = epochs * ((len(xtr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.0)
    loss_fn = nn.CrossEntropyLoss()
    train_s, acc = 0.0, None
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        t0 = time.perf_counter()
        for i in range(0, len(xtr), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
            sched.step()
        train_s += time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            correct = sum((model(xte[i : i + 4096]).argmax(1) == yte[i : i + 4096]).sum().item() for i in range(0, len(xte), 4096))
        acc = correct / len(xte)
    return epochs * len(xtr) / train_s, acc, train_s


def downhill_run(binary, folder, epochs, batch, seed):
    out = tempfile.mkdtemp(prefix="downhill-cnn-bench-")
    cmd = [binary, "train", "--model", "cnn", "--data", folder, "--epochs", str(epochs), "--batch-size", str(batch),
           "--seed", str(seed), "--device", "cpu", "--validation", "0", "--out", os.path.join(out, "run"), "--quiet"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "run", "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    seconds = sum(r["seconds"] for r in rows)
    # The test set's accuracy, from the confusion matrix the run writes after scoring it.
    with open(os.path.join(out, "run", "confusion.csv")) as f:
        counts = [[int(v) for v in line.split(",")[1:]] for line in list(f)[1:] if line.strip()]
    acc = sum(counts[i][i] for i in range(len(counts))) / sum(map(sum, counts))
    return epochs * rows[0]["samples_per_s"] * rows[0]["seconds"] / seconds, acc, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="an MNIST-format folder")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--downhill", help="the downhill binary, to run the same training side by side")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load(args.data)
    rows = []
    if args.downhill:
        rows.append(("downhill (cpu)",) + downhill_run(args.downhill, args.data, args.epochs, args.batch, args.seed))
    rows.append((f"pytorch {torch.__version__} (cpu, {args.threads} threads)",) + torch_run(data, args.epochs, args.batch, args.seed))
    print(f"cnn preset, {args.data}, {args.epochs} epoch(s), batch {args.batch}")
    for name, sps, acc, secs in rows:
        print(f"  {name:40s} {sps:10.0f} samples/s   train {secs:7.1f} s   test accuracy {acc:.4f}")
    if len(rows) == 2:
        print(f"  downhill / pytorch: {rows[0][1] / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
