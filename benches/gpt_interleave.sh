#!/bin/bash
# Training throughput of nanoGPT's CPU recipe, downhill vs PyTorch eager, interleaved at 1 and 2
# threads (300 iterations each, one evaluation batch), two rounds. Needs a release build
# (cargo build --release) and a Python with torch (PYTHON, default python3).
#   benches/gpt_interleave.sh
set -e
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
MODEL="gpt(n_layer=4, n_head=4, n_embd=128, block_size=64)"
COMMON=(--max-iters 300 --eval-interval 300 --eval-iters 1)
for round in 1 2; do
  for th in 1 2; do
    RAYON_NUM_THREADS=$th DOWNHILL_DEVICE=cpu target/release/downhill train --model "$MODEL" --batch-size 12 \
      --lr 1e-3 --min-lr 1e-4 --warmup-iters 100 --beta2 0.99 --weight-decay 0.1 --clip-norm 1.0 "${COMMON[@]}" \
      --out "${TMPDIR:-/tmp}/gpt-interleave" --overwrite --json 2>/dev/null |
      $PYTHON -c "import json,sys; print('round $round threads $th downhill', round(json.load(sys.stdin)['tokens_per_s']), 'tokens/s')"
    $PYTHON benches/gpt_pytorch.py --threads "$th" "${COMMON[@]}" 2>/dev/null |
      $PYTHON -c "import json,sys; print('round $round threads $th pytorch ', round(json.load(sys.stdin)['tokens_per_s']), 'tokens/s')"
  done
done
