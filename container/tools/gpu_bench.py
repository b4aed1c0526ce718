#!/usr/bin/env python
"""The GPU benchmark in one go: naive vs ours vs the ceiling (and peers), within 8 minutes.

    python container/tools/gpu_bench.py           # on a CUDA machine: MiniLM + tiny summarizer
    python container/tools/gpu_bench.py --quick   # anywhere (CPU too): tiny summarizer, short

Ours runs in bf16 where the GPU supports it, else fp16 (app.model.pick_runtime); the seed's
naive server runs as the seed wrote it (fp32 on the event loop). Peers (LitServe, Infinity)
run for MiniLM when `tools/peers.sh` built their venvs with a CUDA torch and time is left.
Targets on a GPU: ours >= 10x naive at c=32, >= 85% of the ceiling.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONTAINER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CONTAINER))
BUDGET_S = 8 * 60


def cuda_python(python: Path) -> bool:
    try:
        out = subprocess.run(
            [str(python), "-c", "import torch; print(torch.cuda.is_available())"],
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "True"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny summarizer only, short windows")
    parser.add_argument("--peers-dir", default=os.environ.get("SMC_PEERS_DIR", "/tmp/smc-peers"))
    args = parser.parse_args()
    begin = time.monotonic()
    import bench
    import torch

    on_gpu = torch.cuda.is_available()
    if not on_gpu and not args.quick:
        print("no CUDA device visible: run with --quick to check the script on CPU")
        return 2
    device = torch.cuda.get_device_name(0) if on_gpu else "CPU"
    dtype = "bf16" if on_gpu and torch.cuda.is_bf16_supported() else ("fp16" if on_gpu else "fp32")
    print(f"device: {device}, ours in {dtype}; budget {BUDGET_S // 60} min", flush=True)
    models = ["summarizer"] if args.quick else ["minilm", "summarizer"]
    levels = [1, 8, 32] if args.quick else [1, 8, 32, 64]
    seconds = 1.5 if args.quick else 3.0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    summary = []
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as tmp:
        for work in bench.workloads(models, Path(tmp)):
            print(f"\n== {work.name} ({work.task}) ==", flush=True)
            naive, ours = bench.bench_pair(work, levels, seconds, 1, Path(tmp))
            best_rate, best_size = bench.ceiling(work, seconds, 1)
            summary.append((work, naive, ours, best_rate, best_size))
        bench.report(summary, levels)
        left = BUDGET_S - (time.monotonic() - begin)
        peers = [
            name
            for name in ("litserve", "infinity")
            if on_gpu and cuda_python(Path(args.peers_dir) / name / "bin" / "python")
        ]
        if "minilm" in models and peers and left > 150:
            import bench_peers

            print(f"\n== peers on MiniLM: {', '.join(peers)} ({left:.0f} s left) ==", flush=True)
            bench_peers.main(
                [
                    "--servers",
                    ",".join(["ours", *peers]),
                    "--peers-dir",
                    args.peers_dir,
                    "--rounds",
                    "1",
                    "--seconds",
                    "2",
                    "--concurrency",
                    "1,32",
                    "--device",
                    "cuda",
                ]
            )
        elif not args.quick:
            print("\npeers skipped: no venv with a CUDA torch (tools/peers.sh) or no time left")
    print(f"\ntotal {time.monotonic() - begin:.0f} s (budget {BUDGET_S} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
