"""Greedy generation with a KV cache, downhill vs a KV-cached PyTorch eager loop
(`benches/gpt_pytorch.py --generate 62`), interleaved at 1 and 2 threads, three rounds: 62 new
tokens from a one-token prompt, within the 64-token context of nanoGPT's CPU recipe. downhill's
rate is (21 samples − 1 sample) of `downhill generate` timed around the process, so loading
the checkpoint cancels out. Usage (after the recipe run, a release build, torch in TORCH_PYTHON):

    TORCH_PYTHON=/path/to/python CHECKPOINT=runs/run-1/checkpoint.safetensors \
        python3 benches/gpt_generate_interleave.py
"""
import subprocess, time, os, json
def dh(th, samples):
    env = dict(os.environ, RAYON_NUM_THREADS=str(th))
    t = time.perf_counter()
    subprocess.run(["target/release/downhill", "generate", "--checkpoint", os.environ.get("CHECKPOINT", "runs/run-1/checkpoint.safetensors"),
                    "--prompt", "\n", "--max-new-tokens", "62", "--temperature", "0", "--num-samples", str(samples),
                    "--device", "cpu"], env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t
for rnd in (1, 2, 3):
    for th in (1, 2):
        out = subprocess.run([os.environ.get("TORCH_PYTHON", "python3"), "benches/gpt_pytorch.py", "--threads", str(th), "--generate", "62"],
                             capture_output=True, text=True).stdout
        pt = json.loads(out)["tokens_per_s"]
        d = dh(th, 21) - dh(th, 1)
        print(f"round {rnd} threads {th}: pytorch {pt:.0f} tokens/s, downhill {20*62/d:.0f} tokens/s ({20*62} tokens in {d:.3f} s)")
