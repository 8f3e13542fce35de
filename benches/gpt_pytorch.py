"""nanoGPT's character-level Shakespeare run in PyTorch eager, the way `downhill train` does it
(the same protocol, so the two can be compared side by side on one machine):

    python3 benches/gpt_pytorch.py --threads 2 --max-iters 2000 --eval-interval 250 --eval-iters 200

The model is nanoGPT's `GPT` (pre-LN blocks, causal self-attention through
F.scaled_dot_product_attention, exact GELU, LayerNorm with bias, the head tied to the token
embedding, normal(0, 0.02) init with the residual projections at 0.02/sqrt(2·n_layer)); the data
tiny-shakespeare (data/tinyshakespeare/input.txt) with the sorted-character vocabulary and a
90/10 split; each iteration `batch` random windows; AdamW with weight decay on tensors of two
or more dims only; linear warm-up then cosine decay to min_lr by iteration; clip_grad_norm_.
Every eval_interval iterations the mean loss of eval_iters random batches of each split.
Prints one JSON object: the evaluations, the best validation loss, training tokens/s
(evaluations excluded), the wall time.
"""

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c)
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(c, 3 * c)
        self.attn.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(c, 4 * c)
        self.mlp.c_proj = nn.Linear(4 * c, c)
        self.h = h

    def step(self, x, cache):
        """One new position x [1, 1, C] with this block's (k, v) cache [1, H, t, D] each."""
        b, t, c = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v)
        x = x + self.attn.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)))), (k, v)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, block, layers, heads, c):
        super().__init__()
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(vocab, c),
                wpe=nn.Embedding(block, c),
                h=nn.ModuleList([Block(c, heads) for _ in range(layers)]),
                ln_f=nn.LayerNorm(c),
            )
        )
        self.lm_head = nn.Linear(c, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))

    @torch.no_grad()
    def generate_cached(self, idx, new_tokens):
        """Greedy decoding with a KV cache (each new token one position's forward), within
        the context: the loop downhill's `generate` runs until block_size."""
        caches = [None] * len(self.transformer.h)
        tokens = idx.tolist()[0]
        logits = None
        for pos, tok in enumerate(tokens):
            logits = self._step(tok, pos, caches)
        for _ in range(new_tokens):
            nxt = int(logits.argmax())
            tokens.append(nxt)
            logits = self._step(nxt, len(tokens) - 1, caches)
        return tokens

    def _step(self, tok, pos, caches):
        x = self.transformer.wte(torch.tensor([[tok]])) + self.transformer.wpe(torch.tensor([pos]))
        for i, block in enumerate(self.transformer.h):
            x, caches[i] = block.step(x, caches[i])
        return self.lm_head(self.transformer.ln_f(x))[0, -1]

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(t, device=idx.device))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "data/tinyshakespeare/input.txt"))
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--n-layer", type=int, default=4)
    a.add_argument("--n-head", type=int, default=4)
    a.add_argument("--n-embd", type=int, default=128)
    a.add_argument("--block-size", type=int, default=64)
    a.add_argument("--batch-size", type=int, default=12)
    a.add_argument("--max-iters", type=int, default=2000)
    a.add_argument("--eval-interval", type=int, default=250)
    a.add_argument("--eval-iters", type=int, default=200)
    a.add_argument("--lr", type=float, default=1e-3)
    a.add_argument("--min-lr", type=float, default=1e-4)
    a.add_argument("--warmup-iters", type=int, default=100)
    a.add_argument("--seed", type=int, default=1337)
    a.add_argument("--generate", type=int, default=0, help="only time N cached greedy tokens (within block_size)")
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    text = Path(args.data).read_text()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    n = int(0.9 * len(data))
    splits = {"train": data[:n], "val": data[n:]}
    block, batch = args.block_size, args.batch_size

    def get_batch(split):
        d = splits[split]
        ix = torch.randint(len(d) - block, (batch,))
        x = torch.stack([d[i : i + block] for i in ix])
        y = torch.stack([d[i + 1 : i + 1 + block] for i in ix])
        return x, y

    model = GPT(len(chars), block, args.n_layer, args.n_head, args.n_embd)
    if args.generate:
        model.eval()
        t0 = time.perf_counter()
        model.generate_cached(torch.tensor([[0]]), args.generate)
        seconds = time.perf_counter() - t0
        print(json.dumps({"engine": f"pytorch {torch.__version__} eager, KV cache", "threads": args.threads,
                          "tokens": args.generate, "tokens_per_s": args.generate / seconds}))
        return
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.99),
    )

    def lr_at(it):
        if it < args.warmup_iters:
            return args.lr * (it + 1) / (args.warmup_iters + 1)
        ratio = (it - args.warmup_iters) / max(1, args.max_iters - args.warmup_iters)
        return args.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (args.lr - args.min_lr)

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        out = {}
        for split in ("train", "val"):
            out[split] = sum(model(*get_batch(split)).item() for _ in range(args.eval_iters)) / args.eval_iters
        model.train()
        return out

    started, train_s, evals, best = time.perf_counter(), 0.0, [], float("inf")
    for it in range(args.max_iters + 1):
        if it % args.eval_interval == 0 or it == args.max_iters:
            losses = estimate_loss()
            evals.append((it, losses["train"], losses["val"]))
            best = min(best, losses["val"])
        if it == args.max_iters:
            break
        t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = get_batch("train")
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        train_s += time.perf_counter() - t0
    print(
        json.dumps(
            {
                "engine": f"pytorch {torch.__version__} eager",
                "threads": args.threads,
                "evals": evals,
                "best_val_loss": best,
                "tokens_per_s": args.max_iters * batch * block / train_s,
                "wall_s": time.perf_counter() - started,
            }
        )
    )


if __name__ == "__main__":
    main()
