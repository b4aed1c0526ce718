"""The embedding model's encoder under ONNX Runtime (EMBEDDING_RUNTIME=onnx, CPU only).

Exported at start from the local weights with torch.onnx (nothing downloaded), into a
temporary folder, and run by an InferenceSession with the same inputs the torch model
takes. Needs `onnxruntime` and `onnx` (not in the image's requirements: see
docs/container.md for the figures that kept it off by default).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("container.model")


class OnnxEncoder:
    """Callable like the torch model for the inputs we pass: returns last_hidden_state."""

    def __init__(self, model: Any, input_names: list[str], threads: int | None = None) -> None:
        import onnxruntime as ort

        self._dir = tempfile.TemporaryDirectory(prefix="onnx-encoder-")
        path = Path(self._dir.name) / "encoder.onnx"
        export(model, input_names, path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        # As OMP_WAIT_POLICY=PASSIVE for torch: spinning workers starve the event loop and,
        # on a shared CPU, the model itself.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = input_names
        log.info(
            "embedding encoder exported to ONNX and loaded in ONNX Runtime %s", ort.__version__
        )

    def __call__(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        feeds = {name: inputs[name].cpu().numpy() for name in self.input_names}
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        return torch.from_numpy(hidden)


def export(model: Any, input_names: list[str], path: Path) -> None:
    sample = {name: torch.ones((2, 8), dtype=torch.long) for name in input_names}

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(input_names, args, strict=True))).last_hidden_state

    axes = {name: {0: "batch", 1: "tokens"} for name in input_names}
    axes["last_hidden_state"] = {0: "batch", 1: "tokens"}
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            Encoder().eval(),
            tuple(sample[name] for name in input_names),
            str(path),
            input_names=input_names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
