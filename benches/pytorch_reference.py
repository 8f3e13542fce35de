#!/usr/bin/env python3
"""The workloads of `downhill bench`, with the same names, in PyTorch, so both engines can be
compared in one run on one machine:

    target/release/downhill bench --device cpu --json > downhill.jsonl
    python3 benches/pytorch_reference.py --device cpu > torch.jsonl

Each workload warms up once, then runs --reps timed repetitions of at least --seconds each;
the median rate is printed as one JSON line (`--table` prints a table instead). Workloads
mirror src/bench.rs: matmul_N (a·bᵀ, GFLOP/s); the MLP, `cnn` and `lenet5` training steps with
AdamW on random data (eight batches per timed epoch, samples/s); `cnn`/`lenet5` inference (eval
mode, no autograd, eight batches of 256); one AdamW update over ~10 M parameters
(fused where PyTorch offers it; params/s and GB/s at 28 bytes/param); one epoch of the
built-in MNIST subset (--mnist-mini, the MLP 784-256-128-10 with dropout 0.2, Adam, batch 64);
nanoGPT's character-level CPU recipe (gpt_pytorch.py's GPT: 4 layers, 4 heads, width 128,
64-token windows over 65 characters, batch 12; tokens/s); fine-tuning a classifier on an
encoder of all-MiniLM-L6-v2's shape (transformers' BertModel with random weights, mean pooling,
a 4-class head, batch 32 of 64 tokens; needs `transformers`, left out without it). Both
sequence workloads use AdamW without decay on biases and norms, and clip the gradients at 1.
`--serve` answers requests on stdin instead: `downhill bench --against-torch PYTHON` runs it
that way to interleave both engines' rounds and print one table. Needs torch and numpy.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

from cnn_pytorch import cnn, read_idx  # the same preset and IDX reader as the CNN comparison
from gpt_pytorch import GPT  # nanoGPT's model, as the GPT comparison trains it


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def measure(fn, device, reps, seconds):
    fn()
    sync(device)
    rates = []
    for _ in range(reps):
        start, work = time.perf_counter(), 0.0
        while True:
            work += fn()
            sync(device)
            if time.perf_counter() - start >= seconds:
                break
        rates.append(work / (time.perf_counter() - start))
    return statistics.median(rates), rates


def mlp(sizes, dropout=0.0):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def train_steps(model, x, y, batch, device):
    model = model.to(device).train()
    opt = torch.optim.AdamW(model.parameters())
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        for i in range(0, len(x), batch):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[i : i + batch]), y[i : i + batch]).backward()
            opt.step()
        return float(len(x))

    return epoch


def sequence_steps(model, batches, device, no_decay, work):
    """Training steps over fixed batches of (inputs, targets): AdamW with the `no_decay`
    parameters in a group without weight decay, clip_grad_norm_ at 1, as downhill's sequence
    workloads; `model(x, y)` returns the loss."""
    model = model.to(device).train()
    batches = [(x.to(device), y.to(device)) for x, y in batches]
    params = list(model.named_parameters())
    opt = torch.optim.AdamW(
        [
            {"params": [p for n, p in params if not no_decay(n, p)]},
            {"params": [p for n, p in params if no_decay(n, p)], "weight_decay": 0.0},
        ]
    )

    def epoch():
        for x, y in batches:
            opt.zero_grad(set_to_none=True)
            model(x, y).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        return float(work * len(batches))

    return epoch


class MiniLmClassifier(nn.Module):
    """An encoder of all-MiniLM-L6-v2's shape with mean pooling and a linear head: what
    `downhill finetune` trains (finetune_pytorch.py's model, with random weights)."""

    def __init__(self, classes):
        super().__init__()
        from transformers import BertConfig, BertModel

        config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                            intermediate_size=1536, max_position_embeddings=512)
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.head = nn.Linear(384, classes)

    def forward(self, ids, labels):
        mask = torch.ones_like(ids)
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        return nn.functional.cross_entropy(self.head(pooled), labels)


def lenet5(classes):
    """downhill's `lenet5` preset (src/nn/spec.rs, PRESETS)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes),
    )


PRESETS = {"cnn": cnn, "lenet5": lenet5}


def eval_steps(model, x, y, batch, device):
    """Inference: the model in eval mode without autograd, loss per batch (as downhill's)."""
    model = model.to(device).eval()
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        with torch.no_grad():
            for i in range(0, len(x), batch):
                loss_fn(model(x[i : i + batch]), y[i : i + batch])
        return float(len(x))

    return epoch


def serve(args):
    """`downhill bench --against-torch`: one line per request on stdin, `NAME REPS SECONDS`, one
    JSON line per answer (`{"error": ...}` for an unknown name), so downhill can interleave
    its rounds with these without paying torch's import for each."""
    unavailable = {}
    table = {name: (key, fn) for name, key, fn in workloads(args, unavailable)}
    device = device_name(args)
    ready = {"ready": sorted(table), "unavailable": unavailable, "device": device, "cuda": torch.cuda.is_available()}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 3 or parts[0] not in table:
            print(json.dumps({"error": f"unknown request {line.strip()!r}"}), flush=True)
            continue
        key, fn = table[parts[0]]
        rate, reps = measure(fn, args.device, int(parts[1]), float(parts[2]))
        print(json.dumps({"workload": parts[0], "device": device, key: rate, "reps": reps}), flush=True)


def device_name(args):
    return f"pytorch {torch.__version__} {args.device}" + (f" ({args.threads} threads)" if args.device == "cpu" else "")


def workloads(args, unavailable):
    """(name, rate key, one-iteration function) of every workload this interpreter can run;
    those it cannot are named in `unavailable` with the reason."""
    dev = args.device
    g = torch.Generator().manual_seed(7)
    out = []
    for n in (512, 1024, 2048):
        a, b = torch.rand(n, n, generator=g).to(dev), torch.rand(n, n, generator=g).to(dev)
        out.append((f"matmul_{n}", "gflop_per_s", lambda a=a, b=b, n=n: (a @ b.T, 2 * n**3 / 1e9)[1]))
    for sizes, batch in (([784, 512, 512, 10], 128), ([784, 1024, 1024, 10], 256), ([784, 128, 10], 64)):
        x = torch.rand(8 * batch, sizes[0], generator=g).to(dev)
        y = torch.randint(0, sizes[-1], (8 * batch,), generator=g).to(dev)
        name = "mlp_" + "-".join(map(str, sizes)) + f"_b{batch}_adamw"
        out.append((name, "samples_per_s", train_steps(mlp(sizes), x, y, batch, dev)))
    for preset, batch in (("cnn", 64), ("cnn", 256), ("lenet5", 64), ("lenet5", 256)):
        x = torch.rand(8 * batch, 1, 28, 28, generator=g).to(dev)
        y = torch.randint(0, 10, (8 * batch,), generator=g).to(dev)
        out.append((f"{preset}_b{batch}_adamw", "samples_per_s", train_steps(PRESETS[preset](10), x, y, batch, dev)))
    for preset in ("cnn", "lenet5"):
        x = torch.rand(8 * 256, 1, 28, 28, generator=g).to(dev)
        y = torch.randint(0, 10, (8 * 256,), generator=g).to(dev)
        out.append((f"{preset}_eval_b256", "samples_per_s", eval_steps(PRESETS[preset](10), x, y, 256, dev)))
    vocab, block, batch = 65, 64, 12
    windows = [(torch.randint(0, vocab, (batch, block), generator=g), torch.randint(0, vocab, (batch, block), generator=g)) for _ in range(8)]
    torch.manual_seed(0)
    gpt = sequence_steps(GPT(vocab, block, 4, 4, 128), windows, dev, lambda n, p: p.dim() < 2, batch * block)
    out.append((f"gpt_char_b{batch}_t{block}_adamw", "tokens_per_s", gpt))
    name = "minilm_finetune_b32_t64_adamw"
    try:
        model = MiniLmClassifier(4)
        texts = [(torch.randint(0, 30522, (32, 64), generator=g), torch.randint(0, 4, (32,), generator=g)) for _ in range(2)]
        no_decay = lambda n, p: n.endswith("bias") or "LayerNorm" in n
        out.append((name, "samples_per_s", sequence_steps(model, texts, dev, no_decay, 32)))
    except ImportError as e:
        unavailable[name] = f"needs transformers ({e}): pip install transformers"
    p = torch.zeros(10_001_000, device=dev, requires_grad=True)
    p.grad = torch.rand(10_001_000, generator=g).to(dev)
    try:
        opt = torch.optim.AdamW([p], fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW([p])
    out.append(("adamw_update_10m", "params_per_s", lambda: (opt.step(), float(p.numel()))[1]))
    mini = args.mnist_mini
    if os.path.exists(os.path.join(mini, "train-images-idx3-ubyte.gz")):
        xs = torch.from_numpy(read_idx(os.path.join(mini, "train-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255).to(dev)
        ys = torch.from_numpy(read_idx(os.path.join(mini, "train-labels-idx1-ubyte.gz")).astype(np.int64)).to(dev)
        model = mlp([784, 256, 128, 10], 0.2).to(dev).train()
        opt2 = torch.optim.Adam(model.parameters())
        loss_fn = nn.CrossEntropyLoss()

        def epoch():
            perm = torch.randperm(len(xs), device=dev)
            for i in range(0, len(xs), 64):
                idx = perm[i : i + 64]
                opt2.zero_grad(set_to_none=True)
                loss_fn(model(xs[idx]), ys[idx]).backward()
                opt2.step()
            return float(len(xs))

        out.append(("epoch_builtin_resident", "samples_per_s", epoch))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--only", default="")
    ap.add_argument("--mnist-mini", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist-mini"))
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--serve", action="store_true", help="answer `NAME REPS SECONDS` lines on stdin (downhill bench --against-torch)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.serve:
        return serve(args)
    device = device_name(args)
    unavailable = {}
    for name, key, fn in workloads(args, unavailable):
        if args.only not in name:
            continue
        rate, reps = measure(fn, args.device, args.reps, args.seconds)
        row = {"workload": name, "device": device, key: rate, "reps": reps}
        if key == "params_per_s":
            row["gb_per_s"] = rate * 28 / 1e9
        print(f"{name:34} {rate:14.4g} {key}" if args.table else json.dumps(row), flush=True)
    for name, why in unavailable.items():
        if args.only in name:
            print(f"{name}: not run: {why}", file=sys.stderr)


if __name__ == "__main__":
    main()
