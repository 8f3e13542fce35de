"""Use a downhill checkpoint from Python: read it, preprocess rows exactly as downhill does,
and predict with NumPy alone or with the equivalent PyTorch nn.Sequential.

    python3 python/downhill_torch.py CHECKPOINT INPUT [--torch] > predictions.csv

INPUT is an IDX image file (gz or raw) or a CSV laid out like the training file. The output
is the CSV `downhill predict` writes (row,prediction,p0,... for classifiers; row,y0,... for
regression). Needs NumPy; `--torch` (or `torch_model()`) needs PyTorch.

Preprocessing, as downhill applies it: u8 IDX pixels are divided by 255; a CSV's label
column (wherever training had it) is dropped; then every feature j becomes
(x_j - shift_j) * factor_j with the normaliser fitted on the training rows, stored in the
checkpoint's metadata (`normalizer`).
"""

import gzip
import json
import math
import struct
import sys

import numpy as np


def read_checkpoint(path):
    """(tensors by file name, downhill metadata) of a safetensors checkpoint, NumPy only."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = json.loads(header.pop("__metadata__")["downhill"])
    tensors = {}
    dtypes = {"F32": "<f4", "I64": "<i8"}  # I64: BatchNorm's num_batches_tracked
    for name, info in header.items():
        if info["dtype"] not in dtypes:
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, expected F32 or I64")
        start, end = info["data_offsets"]
        data = np.frombuffer(blob[8 + n + start : 8 + n + end], dtype=dtypes[info["dtype"]])
        tensors[name] = data.reshape(info["shape"])
    return tensors, meta


def _open_maybe_gzip(path):
    with open(path, "rb") as f:
        raw = f.read()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def read_idx_images(path):
    """(rows, pixels) float32: u8 pixels / 255, f32 values as stored."""
    b = _open_maybe_gzip(path)
    kind, ndims = b[2], b[3]
    dims = struct.unpack(">" + "I" * ndims, b[4 : 4 + 4 * ndims])
    body = b[4 + 4 * ndims :]
    if kind == 0x08:
        x = np.frombuffer(body, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    elif kind == 0x0D:
        x = np.frombuffer(body, dtype=">f4").astype(np.float32)
    else:
        raise ValueError(f"{path}: IDX type 0x{kind:02x} is not supported")
    return x.reshape(dims[0], -1)


def read_csv_rows(path, schema):
    """Feature rows of a CSV, laid out as the training file (`schema` from the checkpoint)."""
    text = _open_maybe_gzip(path).decode()
    lines = [l for l in text.splitlines() if l.strip()]
    first = lines[0]
    counts = {d: first.count(d) for d in ("\t", ";", ",")}
    if counts["\t"] and counts["\t"] >= max(counts[";"], counts[","]):
        sep = "\t"
    elif counts[";"] and counts[";"] >= counts[","]:
        sep = ";"
    else:
        sep = ","

    def numeric(cells):
        try:
            [float(c) for c in cells]
            return True
        except ValueError:
            return False

    rows = [l.split(sep) for l in lines]
    if not numeric(rows[0]):
        rows = rows[1:]
    x = np.array([[float(c) for c in r] for r in rows], dtype=np.float32)
    columns, label = schema["columns"], schema["label_index"]
    if x.shape[1] == columns:
        x = np.delete(x, label, axis=1)
    elif x.shape[1] != columns - 1:
        raise ValueError(f"{path}: rows have {x.shape[1]} columns, the model reads {columns} or {columns - 1}")
    return x


def read_inputs(path, meta):
    """Rows of INPUT as the model's training data was read."""
    schema = meta["schema"]
    name = str(path).lower()
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        if "Csv" not in schema:
            raise ValueError("the model was trained on IDX images; give it IDX images")
        return read_csv_rows(path, schema["Csv"])
    return read_idx_images(path)


def normalize(x, meta):
    """(x - shift) * factor per feature, in float32, as downhill's Normalizer."""
    n = meta["normalizer"]
    shift = np.asarray(n["shift"], dtype=np.float32)
    factor = np.asarray(n["factor"], dtype=np.float32)
    return ((x - shift) * factor).astype(np.float32)


def _activation(name):
    if name == "relu":
        return lambda v: np.maximum(v, np.float32(0))
    if name.startswith("leaky_relu"):
        slope = np.float32(float(name[len("leaky_relu_") :]) if name != "leaky_relu" else 0.01)
        return lambda v: np.where(v > 0, v, v * slope)
    if name == "sigmoid":
        return lambda v: (1 / (1 + np.exp(-v))).astype(np.float32)
    if name == "tanh":
        return np.tanh
    if name == "gelu_tanh":
        c = math.sqrt(2 / math.pi)
        return lambda v: (0.5 * v * (1 + np.tanh(c * (v + 0.044715 * v**3)))).astype(np.float32)
    if name == "gelu_exact":
        erf = np.frompyfunc(math.erf, 1, 1)
        return lambda v: (0.5 * v * (1 + erf(v / math.sqrt(2)).astype(np.float64))).astype(np.float32)
    if name == "silu":
        return lambda v: (v / (1 + np.exp(-v))).astype(np.float32)
    raise ValueError(f"unknown activation {name!r}")


def linear_layers(tensors, meta):
    """[(weight [out, in], bias [out])] in order, from the checkpoint's Sequential names."""
    names = [file for file, _ in meta["names"]]
    indices = sorted({int(n.split(".")[0]) for n in names})
    return [(tensors[f"{i}.weight"], tensors[f"{i}.bias"]) for i in indices]


def forward(tensors, meta, x):
    """The MLP's outputs for preprocessed rows x (dropout is off in evaluation). Other models
    (CNNs) run through PyTorch: see torch_model."""
    if meta["config"].get("model", "mlp") != "mlp":
        raise ValueError("the NumPy forward pass covers MLP checkpoints; run this model with --torch")
    act = _activation(meta["config"]["activation"])
    layers = linear_layers(tensors, meta)
    h = x
    for k, (w, b) in enumerate(layers):
        h = (h @ w.T + b).astype(np.float32)
        if k + 1 < len(layers):
            h = act(h)
    return h


def softmax(z):
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(axis=1, keepdims=True)


def torch_model(path):
    """(nn.Sequential with the checkpoint's weights, in eval mode; the metadata)."""
    import torch
    from torch import nn

    tensors, meta = read_checkpoint(path)
    state = {n: torch.from_numpy(t.copy()) for n, t in tensors.items() if not n.startswith("optimizer.")}
    if meta.get("torch_code"):
        # Format 3 records the module's own Python (`model = nn.Sequential(...)`).
        scope = {}
        exec(meta["torch_code"], scope)
        model = scope["model"]
        model.load_state_dict(state)
        return model.eval(), meta
    cfg = meta["config"]
    acts = {
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
        "gelu_exact": nn.GELU,
        "silu": nn.SiLU,
    }
    name = cfg["activation"]
    if name.startswith("leaky_relu"):
        slope = float(name[len("leaky_relu_") :]) if name != "leaky_relu" else 0.01
        make_act = lambda: nn.LeakyReLU(slope)
    else:
        make_act = acts[name]
    layers = linear_layers(tensors, meta)
    modules = []
    for k, (w, _) in enumerate(layers):
        modules.append(nn.Linear(w.shape[1], w.shape[0]))
        if k + 1 < len(layers):
            modules.append(make_act())
            if cfg["dropout"] > 0:
                modules.append(nn.Dropout(cfg["dropout"]))
    model = nn.Sequential(*modules)
    model.load_state_dict(state)
    return model.eval(), meta


def model_input(model, x, meta):
    """Normalised rows as the module takes them: reshaped to the recorded per-sample input
    shape (a CNN's [C, H, W]), and as int64 indices when the first layer is an nn.Embedding."""
    import torch
    from torch import nn

    shape = [len(x)] + list(meta.get("input_shape") or [x.shape[1]])
    t = torch.from_numpy(np.ascontiguousarray(x)).reshape(shape)
    first = next((m for m in model.modules() if not list(m.children())), None)
    return t.long() if isinstance(first, nn.Embedding) else t


def restore_targets(outputs, meta):
    """Regression outputs back in the targets' units (downhill trains on standardised targets
    and `predict` undoes it)."""
    t = meta.get("target_normalizer")
    if not t:
        return outputs
    shift = np.asarray(t["shift"], dtype=np.float32)
    factor = np.asarray(t["factor"], dtype=np.float32)
    return (outputs / factor + shift).astype(np.float32)


def _csv_field(s):
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n\r') else s


def predictions_csv(outputs, classes, names=None):
    """The CSV `downhill predict` writes (classes named by their original labels when the
    checkpoint mapped them)."""
    out = []
    if classes is not None:
        probs = softmax(outputs)
        heads = [f"p_{n}" for n in names] if names else [f"p{c}" for c in range(outputs.shape[1])]
        out.append("row,prediction," + ",".join(_csv_field(h) for h in heads))
        for r, p in enumerate(probs):
            k = int(np.argmax(outputs[r]))
            label = _csv_field(names[k]) if names else str(k)
            out.append(f"{r},{label}," + ",".join(f"{v:.6f}" for v in p))
    else:
        out.append("row," + ",".join(f"y{c}" for c in range(outputs.shape[1])))
        for r, y in enumerate(outputs):
            out.append(f"{r}," + ",".join(repr(float(v)) for v in y))
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    checkpoint, inputs = argv[0], argv[1]
    tensors, meta = read_checkpoint(checkpoint)
    x = normalize(read_inputs(inputs, meta), meta)
    if "--torch" in argv[2:]:
        import torch

        model, _ = torch_model(checkpoint)
        with torch.no_grad():
            outputs = model(model_input(model, x, meta)).numpy()
    else:
        outputs = forward(tensors, meta, x)
    outputs = restore_targets(outputs, meta)
    sys.stdout.write(predictions_csv(outputs, meta.get("classes"), meta.get("label_names")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
