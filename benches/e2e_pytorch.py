#!/usr/bin/env python3
"""End to end, process start to exit: one MLP training run in downhill and the same run in
PyTorch, each in its own process, interleaved --runs times; prints each run's wall time and
peak RSS, the medians, and downhill's wall time over PyTorch's.

The default is issue 9's Fashion-MNIST target: 784-256-128-10 ReLU MLP, dropout 0.2, AdamW
(lr 1e-3, weight decay 1e-2), cosine schedule over every step, batch 64 → --batch 128, 5
epochs, test accuracy after every epoch. The PyTorch side mirrors `downhill train` with those
settings: IDX files read and decoded, pixels / 255, one global standardisation fitted on the
training images (normalization "scalar"), a fresh shuffle per epoch, PyTorch's default init,
cross-entropy. downhill also writes its checkpoint, metrics and plot, which PyTorch does not.

    apt-get install dataset-fashion-mnist
    python3 benches/e2e_pytorch.py --data /usr/share/datasets/fashion-mnist \
        --downhill target/release/downhill

Needs torch and numpy. --threads defaults to every core (downhill uses them all too).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child_torch(args):
    """The PyTorch run (in its own process so its peak RSS is its own)."""
    import numpy as np
    import torch
    import torch.nn as nn

    sys.path.insert(0, HERE)
    from cnn_pytorch import find, read_idx

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xs = [read_idx(find(args.data, f"{s}-images-idx3-ubyte")) for s in ("train", "t10k")]
    ys = [torch.from_numpy(read_idx(find(args.data, f"{s}-labels-idx1-ubyte")).astype(np.int64)) for s in ("train", "t10k")]
    xs = [x.reshape(len(x), -1).astype(np.float32) / 255.0 for x in xs]
    mean, std = xs[0].mean(dtype=np.float64), xs[0].std(dtype=np.float64)
    xtr, xte = [torch.from_numpy(((x - mean) / std).astype(np.float32)) for x in xs]
    ytr, yte = ys
    sizes = [xtr.shape[1]] + args.hidden + [int(ytr.max()) + 1]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i + 2 < len(sizes):
            layers += [nn.ReLU(), nn.Dropout(args.dropout)]
    model = nn.Sequential(*layers)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    steps = args.epochs * ((len(xtr) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.0)
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), args.batch):
            idx = perm[i : i + args.batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
    print(f"{args.epochs} epochs (training and evaluation) in {time.perf_counter() - started:.1f} s, test accuracy {acc:.4f}")


def timed(cmd):
    """Runs cmd; returns (wall seconds, peak RSS in MB, its last stdout line about accuracy)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed (status {status})")
    lines = [line for line in out.splitlines() if "accuracy" in line]
    return wall, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="an MNIST-format folder")
    ap.add_argument("--downhill", default=os.path.join(HERE, "..", "target", "release", "downhill"))
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child-torch", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.hidden = [int(h) for h in args.hidden.split(",")]
    if args.child_torch:
        return child_torch(args)
    common = ["--data", args.data, "--epochs", str(args.epochs), "--batch", str(args.batch), "--seed", str(args.seed)]
    torch_cmd = [sys.executable, os.path.abspath(__file__), "--child-torch", "--threads", str(args.threads),
                 "--hidden", ",".join(map(str, args.hidden)), "--dropout", str(args.dropout)] + common
    out = tempfile.mkdtemp(prefix="downhill-e2e-")
    downhill_cmd = [args.downhill, "train", "--data", args.data, "--hidden", ",".join(map(str, args.hidden)),
                    "--dropout", str(args.dropout), "--optimizer", "adamw", "--schedule", "cosine",
                    "--batch-size", str(args.batch), "--epochs", str(args.epochs), "--seed", str(args.seed),
                    "--device", "cpu", "--out", os.path.join(out, "run"), "--overwrite"]
    print(f"MLP 784-{'-'.join(map(str, args.hidden))}-10, AdamW, batch {args.batch}, {args.epochs} epochs, {args.data}")
    results = {"downhill": [], "pytorch": []}
    for r in range(args.runs):
        for name, cmd in (("downhill", downhill_cmd), ("pytorch", torch_cmd)):
            wall, rss, last = timed(cmd)
            results[name].append((wall, rss))
            print(f"  run {r + 1} {name:8s} {wall:7.2f} s  peak RSS {rss:6.0f} MB  | {last.strip()[:80]}", flush=True)
    med = {k: (statistics.median(w for w, _ in v), max(m for _, m in v)) for k, v in results.items()}
    for k, (w, m) in med.items():
        print(f"  median {k:8s} {w:7.2f} s  peak RSS {m:6.0f} MB")
    print(f"  downhill / pytorch wall time: {med['downhill'][0] / med['pytorch'][0]:.2f}")


if __name__ == "__main__":
    main()
