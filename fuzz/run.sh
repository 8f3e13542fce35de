#!/usr/bin/env bash
# Runs the fuzz targets: `fuzz/run.sh smoke` (each target ~20 s, what .ci/run does) or
# `fuzz/run.sh campaign RUNS [TARGET…]` (each target to RUNS executions). Every run uses
# libFuzzer with a 2 GB RSS limit and a 1 s per-input timeout, the seeds in fuzz/seeds/<target>
# and a working corpus in $FUZZ_CORPUS (default target/fuzz-corpus). A finding stops the run
# with the input saved under fuzz/artifacts/<target>/ and a non-zero status.
#
# Built without a sanitizer (`-s none`): the readers are safe Rust, so what libFuzzer looks
# for is panics (debug assertions are on: integer overflow panics too), aborts, hangs and
# memory blow-ups; skipping AddressSanitizer roughly doubles executions per second.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-smoke}
shift || true
targets_all=(idx csv checkpoint config_toml model_spec explorer_api text_corpus hf_config hf_tokenizer hf_safetensors)
corpus_root=${FUZZ_CORPUS:-target/fuzz-corpus}
# Readers that take a path write their input to a scratch file: keep it in memory.
export TMPDIR=${TMPDIR:-/dev/shm}
flags=(-rss_limit_mb=2048 -timeout=1 -print_final_stats=1)
case $mode in
  smoke) runs_flag=(-max_total_time=20); targets=("${targets_all[@]}") ;;
  campaign) runs_flag=(-runs="${1:?campaign RUNS [TARGET…]}"); shift; targets=("${@:-${targets_all[@]}}") ;;
  *) echo "usage: fuzz/run.sh smoke | campaign RUNS [TARGET…]" >&2; exit 2 ;;
esac
(cd fuzz && cargo +nightly fuzz build -s none)
mkdir -p "$corpus_root"
corpus_abs=$(cd "$corpus_root" && pwd)
for t in "${targets[@]}"; do
  mkdir -p "$corpus_abs/$t"
  log="$corpus_abs/$t.log"
  echo "== fuzz $t"
  status=0
  (cd fuzz && cargo +nightly fuzz run -s none "$t" "$corpus_abs/$t" "seeds/$t" -- "${flags[@]}" "${runs_flag[@]}") \
    >"$log" 2>&1 || status=$?
  grep -E "^(stat::|Done|==[0-9]+==|SUMMARY|thread '|panicked|.*Test unit written)" "$log" || true
  [ "$status" -eq 0 ] || { tail -40 "$log"; echo "fuzz $t: FAILED (status $status)"; exit 1; }
done
