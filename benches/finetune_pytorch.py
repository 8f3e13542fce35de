#!/usr/bin/env python3
"""The PyTorch + transformers side of the fine-tuning benchmark (README: "Fine-tune a
pretrained transformer"): exactly what `downhill finetune` does, for a side-by-side run.

    python3 benches/finetune_pytorch.py --from MODEL_DIR --data train.csv --test test.csv \
        --max-length 64 --batch-size 32 --epochs 3 --threads 2 [--json out.json]

A Hugging Face encoder (AutoModel, its default attention), sentence-transformers' mean pooling
over the attention mask, a new nn.Linear head; AdamW (lr 5e-5, weight decay 0.01, none on
biases and LayerNorm weights), get_linear_schedule_with_warmup over 10 % of the steps,
clip_grad_norm_(1.0); batches of shuffled texts padded to their longest (rounded up to a
multiple of 8, as downhill pads), cut at --max-length; dropout as the config says. Test loss
and accuracy after every epoch; training texts/s timed around the training steps only.
Labels: dense ids 0..K-1 in the CSV's label column.
"""

import argparse
import csv
import json
import math
import random
import sys
import time

import torch
from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--from", dest="model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tok = AutoTokenizer.from_pretrained(a.model)
    encoder = AutoModel.from_pretrained(a.model)
    train_x, train_y = read(a.data)
    test_x, test_y = read(a.test)
    k = max(train_y) + 1
    head = torch.nn.Linear(encoder.config.hidden_size, k)

    def forward(texts):
        enc = tok(texts, truncation=True, max_length=a.max_length, padding="longest", pad_to_multiple_of=8, return_tensors="pt")
        h = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return head(pooled)

    named = list(encoder.named_parameters()) + [("head." + n, q) for n, q in head.named_parameters()]
    decay = [q for n, q in named if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [q for n, q in named if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    steps = math.ceil(len(train_x) / a.batch_size) * a.epochs
    sched = get_linear_schedule_with_warmup(opt, math.ceil(0.1 * steps), steps)
    rng = random.Random(a.seed)
    order = list(range(len(train_x)))
    epochs = []
    for epoch in range(1, a.epochs + 1):
        encoder.train()
        head.train()
        rng.shuffle(order)
        start = time.perf_counter()
        total = 0.0
        for i in range(0, len(order), a.batch_size):
            idx = order[i : i + a.batch_size]
            logits = forward([train_x[j] for j in idx])
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([train_y[j] for j in idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([q for _, q in named], 1.0)
            opt.step()
            sched.step()
            total += loss.item()
        seconds = time.perf_counter() - start
        encoder.eval()
        head.eval()
        correct, test_loss = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(test_x), 64):
                logits = forward(test_x[i : i + 64])
                y = torch.tensor(test_y[i : i + 64])
                test_loss += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
                correct += (logits.argmax(1) == y).sum().item()
        rec = {
            "epoch": epoch,
            "train_loss": total / math.ceil(len(order) / a.batch_size),
            "test_loss": test_loss / len(test_x),
            "test_accuracy": correct / len(test_x),
            "seconds": seconds,
            "samples_per_s": len(order) / seconds,
        }
        epochs.append(rec)
        print(f"epoch {epoch}: train loss {rec['train_loss']:.4f}, test loss {rec['test_loss']:.4f}, "
              f"test accuracy {100 * rec['test_accuracy']:.2f}%, {seconds:.1f} s, {rec['samples_per_s']:.1f} texts/s",
              file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"epochs": epochs, "threads": a.threads, "torch": torch.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
