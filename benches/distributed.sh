#!/usr/bin/env bash
# Data-parallel scaling on this machine: one process against `mpirun -np 2` (cargo feature
# `mpi`), CPU path, same data, model and epochs. Prints samples/s, the 2-rank speed-up over
# one process with the same per-rank batch (weak scaling) and with the same global batch
# (strong scaling), and what the gradient all-reduce moved and cost.
#
#   cargo build --release --features mpi && benches/distributed.sh [DATA] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/downhill
DATA=${1:-../shared/data/mnist}
EPOCHS=${2:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(eval(sys.argv[1]))" "$1"; }

for spec in "mlp 64" "cnn 32"; do
    set -- $spec
    model=$1 b=$2
    common=(train --data "$DATA" --model "$model" --epochs "$EPOCHS" --device cpu --json --overwrite)
    one=$($BIN "${common[@]}" --batch-size "$b" --out "$OUT/one")
    one2=$($BIN "${common[@]}" --batch-size $((2 * b)) --out "$OUT/one2")
    two=$(mpirun --oversubscribe -np 2 $BIN "${common[@]}" --distributed --batch-size "$b" --out "$OUT/two")
    s1=$(echo "$one" | field "d['samples_per_s']")
    s12=$(echo "$one2" | field "d['samples_per_s']")
    s2=$(echo "$two" | field "d['samples_per_s']")
    echo "$model: 1 process batch $b: $s1 samples/s (acc $(echo "$one" | field "d['test_accuracy']"))"
    echo "$model: 1 process batch $((2 * b)): $s12 samples/s (acc $(echo "$one2" | field "d['test_accuracy']"))"
    echo "$model: 2 ranks x batch $b: $s2 samples/s (acc $(echo "$two" | field "d['test_accuracy']"))"
    python3 -c "print(f'$model: speed-up {$s2/$s1:.2f}x over batch $b (efficiency {$s2/$s1/2:.2f}), {$s2/$s12:.2f}x over batch $((2 * b)) (efficiency {$s2/$s12/2:.2f})')"
    echo "$two" | field "'$model: all-reduce per step %.2f MB; %d calls; %.2f s collective, %.2f s read-back, %.2f s write' % (d['all_reduce']['bytes']/1e6, d['all_reduce']['calls'], d['all_reduce']['collective_s'], d['all_reduce']['read_s'], d['all_reduce']['write_s'])"
done
