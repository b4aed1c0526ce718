"""How an async output or failure reads on screen: JSON pretty, vectors as shapes, text wrapped."""

from __future__ import annotations

import json
import math
from typing import Any

from smconsole.models.requests import AsyncRequest, OutputBody, Status
from smconsole.ui import formatting as fmt
from smconsole.ui.markup import escape

MAX_PREVIEW_CHARS = 20_000
NUMBERS_SHOWN = 4
# A list of numbers longer than this is a vector, not something to read value by value.
VECTOR_MIN = 8


def describe_request(request: AsyncRequest) -> str:
    """The header of the preview: what was sent, where it went (markup; values escaped)."""
    source = request.input_location or f"inline ({request.source})"
    lines = [
        f"[b]{escape(request.batch_id)}[/b] #{request.index}  {request.status.value}",
        f"inference id  {escape(request.inference_id)}",
        f"endpoint      {escape(request.endpoint)}",
        f"input         {escape(source)}"
        + (f"  from {escape(request.source_ref)}" if request.source_ref else ""),
    ]
    if request.output_location:
        lines.append(f"output        {escape(request.output_location)}")
    if request.status is Status.FAILED and request.failure_location:
        lines.append(f"failure       {escape(request.failure_location)}")
    if request.latency is not None:
        lines.append(f"latency       {fmt.duration(request.latency)}")
    if request.error:
        lines.append(f"[red]error         {escape(request.error)}[/red]")
    return "\n".join(lines)


def render_body(body: OutputBody) -> str:
    """The body as text for a wrapping Static (markup escaped)."""
    text = body.data.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError:
        shown = text
    else:
        shown = json.dumps(summarise(value), indent=2, ensure_ascii=False)
    if len(shown) > MAX_PREVIEW_CHARS:
        shown = shown[:MAX_PREVIEW_CHARS] + f"\n… ({len(shown) - MAX_PREVIEW_CHARS:,} more characters)"
    if body.truncated:
        shown += "\n… (preview of the first part of the object)"
    return escape(shown)


def summarise(value: Any) -> Any:
    """JSON with every numeric vector or matrix replaced by a one-line description."""
    shape = numeric_shape(value)
    if shape is not None and (len(shape) > 1 or shape[0] >= VECTOR_MIN):
        return describe_array(value, shape)
    if isinstance(value, dict):
        return {k: summarise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarise(v) for v in value]
    return value


def numeric_shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a rectangular nested list of numbers, or None."""
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return (len(value),)
    inner = [numeric_shape(v) for v in value]
    if inner[0] is None or any(s != inner[0] for s in inner):
        return None
    return (len(value), *inner[0])


def describe_array(value: list[Any], shape: tuple[int, ...]) -> str:
    first = value
    while isinstance(first, list) and first and isinstance(first[0], list):
        first = first[0]
    head = ", ".join(f"{x:.4g}" for x in first[:NUMBERS_SHOWN])
    more = ", …" if len(first) > NUMBERS_SHOWN else ""
    norm = math.sqrt(sum(float(x) * float(x) for x in first))
    dims = " × ".join(str(n) for n in shape)
    return f"<{dims} numbers: [{head}{more}], first row norm {norm:.3f}>"

