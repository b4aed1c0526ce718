#!/usr/bin/env bash
# Builds the benchmark-only venvs of the peers `bench.py --peers` compares against:
# LitServe (its own batching) and Infinity (infinity-emb, torch engine; needs transformers < 5).
# They never go into the image, the requirements or the test extras.
#
#     container/tools/peers.sh [DIR]      # default: $SMC_PEERS_DIR or /tmp/smc-peers
#
# Each venv sees the system site-packages (torch, transformers 5 for LitServe), so only the
# peer and what it pins are downloaded; Infinity's venv shadows transformers with a 4.x.
set -euo pipefail
dir="${1:-${SMC_PEERS_DIR:-/tmp/smc-peers}}"
mkdir -p "$dir"
python="${PYTHON:-python3}"

build() {  # build NAME PACKAGE...
    local name="$1"; shift
    if [ ! -x "$dir/$name/bin/python" ]; then
        "$python" -m venv --system-site-packages "$dir/$name"
    fi
    # torch==2.13.0 is the CPU wheel on local disk; naming it keeps pip from fetching CUDA's.
    "$dir/$name/bin/python" -m pip install -q "torch==2.13.0" "$@"
}

build litserve "litserve==0.2.19"
build infinity "infinity-emb[server,torch]==0.0.78" "transformers<5"
build onnx "onnxruntime==1.31.1" "onnx==1.23.2" "onnxscript"
echo "peers in $dir: $(ls "$dir" | tr '\n' ' ')"
