"""Loads a downhill `gpt` checkpoint into a PyTorch GPT with nanoGPT's module layout and
state_dict names (`benches/gpt_pytorch.py`'s `GPT`, the same names nanoGPT's `model.py` has)
with `load_state_dict(strict=True)`, then decodes greedily from a newline: the text must be
what `downhill generate --temperature 0` prints from the same checkpoint. The safetensors file
is read by hand (8-byte header length, JSON header, little-endian f32 data), so only torch is
needed. Usage (a release build; torch in the Python running this):

    python3 benches/nanogpt_load.py CHECKPOINT [--n-layer 4 --n-head 4 --n-embd 128 --block-size 64]
"""
import argparse, json, struct, subprocess, sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt_pytorch import GPT  # noqa: E402


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        start, end = info["data_offsets"]
        values = torch.frombuffer(bytearray(raw[8 + n + start : 8 + n + end]), dtype=torch.float32)
        tensors[name] = values.reshape(info["shape"]) if info["shape"] else values
    return tensors


def main():
    a = argparse.ArgumentParser()
    a.add_argument("checkpoint")
    a.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "data/tinyshakespeare/input.txt"))
    a.add_argument("--n-layer", type=int, default=4)
    a.add_argument("--n-head", type=int, default=4)
    a.add_argument("--n-embd", type=int, default=128)
    a.add_argument("--block-size", type=int, default=64)
    a.add_argument("--tokens", type=int, default=60)
    args = a.parse_args()
    chars = sorted(set(Path(args.data).read_text()))
    state = {k: v for k, v in read_safetensors(args.checkpoint).items() if not k.startswith("optimizer.")}
    model = GPT(len(chars), args.block_size, args.n_layer, args.n_head, args.n_embd)
    model.load_state_dict(state, strict=True)  # every name present, none left over
    model.eval()
    ids = model.generate_cached(torch.tensor([[chars.index("\n")]]), args.tokens)
    theirs = "".join(chars[i] for i in ids[1:])
    ours = subprocess.run(
        ["target/release/downhill", "generate", "--checkpoint", args.checkpoint, "--prompt", "\n",
         "--max-new-tokens", str(args.tokens), "--temperature", "0", "--device", "cpu"],
        capture_output=True, text=True, check=True,
    ).stdout
    print(json.dumps({"loaded": len(state), "pytorch": theirs, "downhill": ours[1:1 + len(theirs)], "same": ours[1:1 + len(theirs)] == theirs}))


if __name__ == "__main__":
    main()
