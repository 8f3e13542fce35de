#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/seeds/<target>/ from real files: the repository's fixtures
and data formats, cut small (libFuzzer mutates short inputs faster). Run from fuzz/; needs
only Python's standard library and the repository's tests/fixtures. Re-running rewrites them."""
import gzip, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures")
MNIST = os.path.join(HERE, "..", "..", "shared", "data", "mnist-mini")

def put(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def gz(data):
    return gzip.compress(data, mtime=0)

# IDX: real MNIST headers with the first few records, raw and gzipped; an f32 file.
def idx_head(path, records, record_bytes):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    header = bytearray(raw[: 4 + 4 * dims])
    struct.pack_into(">I", header, 4, records)
    return bytes(header) + raw[4 + 4 * dims : 4 + 4 * dims + records * record_bytes]
images = idx_head(os.path.join(MNIST, "train-images-idx3-ubyte.gz"), 2, 784)
labels = idx_head(os.path.join(MNIST, "train-labels-idx1-ubyte.gz"), 8, 1)
put("idx", "images-2", images)
put("idx", "images-2.gz", gz(images))
put("idx", "labels-8", labels)
put("idx", "labels-8.gz", gz(labels))
put("idx", "f32-2x3", bytes([0, 0, 0x0D, 2]) + struct.pack(">II", 2, 3) + struct.pack(">6f", 0, 1.5, -2, 3e-3, 4e5, 5))

# CSV: option byte, then a file. Digits rows, a header with text labels, regression, quoting.
with gzip.open(os.path.join(FIX, "digits.csv.gz"), "rt") as f:
    digits = "".join(f.readlines()[:6])
put("csv", "digits", b"\x00" + digits.encode())
put("csv", "header-text-labels", b"\x01" + b"a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n")
put("csv", "regression-semicolon", b"\x41" + b"x;y;target\n1.5;2e3;0.25\n-3;4;1e-2\n")
put("csv", "quoted-crlf-bom", b"\x05" + b'\xef\xbb\xbf"label","x"\r\n"1","2.5"\r\n"0","-1"\r\n')
put("csv", "tabs-name", b"\x83" + b"f1\tf2\tlabel\n0\t1\t2\n1\t0\t1\n")

# Checkpoints: the format-2 MLP fixture (a real file the CLI wrote).
put("checkpoint", "format2-mlp.safetensors", open(os.path.join(FIX, "format2-mlp.safetensors"), "rb").read())

# TOML configs.
put("config_toml", "mlp", 'model = "mlp"\nhidden = [128, 64]\nactivation = "relu"\noptimizer = "adamw"\nlr = 0.001\nepochs = 3\nbatch_size = 64\nseed = 7\n')
put("config_toml", "cnn", 'model = "cnn"\noptimizer = "sgd"\nlr = 0.05\nmomentum = 0.9\nweight_decay = 5e-4\nschedule = "cosine"\nwarmup_steps = 100\nclip_grad_norm = 1.0\n')
put("config_toml", "layers", '[[layers]]\ntype = "conv2d"\nout_channels = 8\nkernel_size = 3\n\n[[layers]]\ntype = "relu"\n\n[[layers]]\ntype = "flatten"\n\n[[layers]]\ntype = "linear"\nout_features = 10\n')

# Model specs: input-shape byte, then the text.
for i, (pick, text) in enumerate([
    (0, "linear(128) relu dropout(0.1) linear(10)"),
    (1, "lenet5"),
    (1, "cnn"),
    (1, "conv2d(8, 3, padding=1) batchnorm2d relu maxpool2d(2) residual(conv2d(8, 3, padding=1) relu) flatten linear(10)"),
    (2, "conv2d(4, 3, stride=2, groups=1) layernorm([4, 3, 3]) gelu avgpool2d(2, padding=1) flatten linear(10)"),
    (3, "embedding(50, 8) flatten linear(10)"),
    (3, "gpt(n_layer=1, n_head=2, n_embd=8, block_size=16)"),
]):
    put("model_spec", f"spec-{i}", bytes([pick]) + text.encode())

# Explorer API bodies: endpoint byte (0 race, 1 basin, 2 surface), then the JSON.
put("explorer_api", "race", b"\x00" + json.dumps({"surface": {"name": "himmelblau"}, "start": [0.5, -0.5], "steps": 50, "runs": [
    {"label": "sgd", "optimizer": {"name": "sgd", "lr": 0.01}},
    {"label": "adam", "optimizer": {"name": "adam", "lr": 0.05, "beta1": 0.8}},
    {"label": "nesterov", "optimizer": {"name": "sgd", "lr": 0.005, "momentum": 0.9, "nesterov": True}}]}).encode())
put("explorer_api", "basin", b"\x01" + b'{"surface": {"name": "two-basin"}, "optimizer": {"name": "sgd", "lr": 0.05}, "grid": 20, "steps": 200, "schedule": {"kind": "cosine"}}')
put("explorer_api", "surface", b"\x02" + b'{"surface": {"name": "bowl", "condition": 100}, "resolution": 32}')

# Text corpora: vocabulary byte (0 characters, 1 bytes), then text.
with open(os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare", "input.txt"), "rb") as f:
    shakespeare = f.read(600)
put("text_corpus", "shakespeare-chars", b"\x06" + shakespeare)
put("text_corpus", "shakespeare-bytes", b"\x07" + shakespeare)
put("text_corpus", "unicode", b"\x02" + "naïve café — ünïcödé ✓ 😀\n".encode())

# Hugging Face config.json and weights: the tiny BERT and GPT-2 that transformers wrote.
for arch in ["bert", "gpt2"]:
    folder = os.path.join(FIX, "oracle", f"hf-tiny-{arch}")
    put("hf_config", f"{arch}-config.json", open(os.path.join(folder, "config.json"), "rb").read())
    # The real weights' header (names, dtypes, shapes as transformers wrote them), cut to its
    # first three tensors so the seed stays small.
    with open(os.path.join(folder, "model.safetensors"), "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    kept, body, at = {}, b"", 0
    for name in [k for k in header if k != "__metadata__"][:3]:
        info = dict(header[name])
        lo, hi = info["data_offsets"]
        chunk = raw[8 + n + lo : 8 + n + hi][:64]
        count = 1
        for d in info["shape"]:
            count *= d
        width = len(raw[8 + n + lo : 8 + n + hi]) // max(count, 1)
        info["shape"] = [len(chunk) // max(width, 1)]
        info["data_offsets"] = [at, at + len(chunk)]
        kept[name], body, at = info, body + chunk, at + len(chunk)
    if "__metadata__" in header:
        kept["__metadata__"] = header["__metadata__"]
    text = json.dumps(kept).encode()
    put("hf_safetensors", f"{arch}.safetensors", struct.pack("<Q", len(text)) + text + body)

# tokenizer.json: small WordPiece and BPE tokenizers in the tokenizers crate's own format.
wordpiece = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
    {"id": 1, "content": "[UNK]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
    {"id": 2, "content": "[CLS]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
    {"id": 3, "content": "[SEP]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
  "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
  "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
      "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "the": 4, "quick": 5, "brown": 6, "fox": 7, "hello": 8, ",": 9, "world": 10, "!": 11, "##s": 12, "a": 13, "and": 14}}}
put("hf_tokenizer", "wordpiece.json", json.dumps(wordpiece))
bpe = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [
    {"id": 6, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": True}],
  "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
  "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
  "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
  "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
      "vocab": {"t": 0, "h": 1, "e": 2, "th": 3, "the": 4, "Ġ": 5, "<|endoftext|>": 6}, "merges": ["t h", "th e"]}}
put("hf_tokenizer", "bpe.json", json.dumps(bpe))
