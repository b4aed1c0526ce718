"""Result bodies in S3: one read (ranged, for a preview), and what a person sees of it."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from smconsole import errors
from smconsole.models.requests import OutputBody
from smconsole.session import AwsSession, read_body
from smconsole.specs.common import split_s3_uri

PREVIEW_LIMIT = 4 * 1024 * 1024


def fetch_body(session: AwsSession, location: str, *, limit: int = PREVIEW_LIMIT) -> OutputBody:
    """An output or failure object (its first `limit` bytes; 0: all of it)."""
    bucket, key = split_s3_uri(location)
    s3 = session.client("s3")
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if limit:
        params["Range"] = f"bytes=0-{limit - 1}"
    try:
        reply = s3.get_object(**params)
    except errors.AwsError as exc:
        if exc.code != "InvalidRange":
            raise
        params.pop("Range")  # an empty object has no byte 0
        reply = s3.get_object(**params)
    data = read_body(reply)
    total = object_size(reply)
    modified = reply.get("LastModified")
    return OutputBody(location, reply.get("ContentType"), data,
                      truncated=total is not None and total > len(data),
                      size=len(data) if total is None else total,
                      last_modified=modified.timestamp() if isinstance(modified, datetime)
                      else None)


def object_size(reply: dict[str, Any]) -> int | None:
    """An S3 GetObject reply's whole object size (a ranged read names it in ContentRange)."""
    content_range = reply.get("ContentRange")
    if content_range and "/" in content_range:
        try:
            return int(content_range.rsplit("/", 1)[1])
        except ValueError:
            return None
    length = reply.get("ContentLength")
    return int(length) if length is not None else None


def decode_body(data: bytes, key: str) -> dict[str, Any]:
    """A body as JSON when it is JSON, text when it is text, base64 otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {key + "_base64": base64.b64encode(data).decode("ascii")}
    try:
        return {key: json.loads(text)}
    except ValueError:
        return {key: text}


def error_summary(data: bytes, limit: int = 300) -> str:
    """One line from an error body: its JSON message/error fields, else its text."""
    text = data.decode("utf-8", errors="replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "message", "detail") if body.get(k)]
        if parts:
            text = ": ".join(dict.fromkeys(parts))
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
