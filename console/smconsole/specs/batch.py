"""Request batches (configs/requests-*.yaml): what to send to one async endpoint.

`load_batch(path)` validates the whole file, expands `repeat`/`matrix`, resolves files and
reads their sizes and hashes, and only then returns a `PlannedBatch`; nothing touches AWS.
Every problem is reported at once, each as file:line: field: message.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from smconsole.errors import SpecError, SpecProblem
from smconsole.specs.common import Spec, split_s3_uri
from smconsole.specs.located import LocatedYaml, load_yaml, sort_problems, validate_located

INLINE_LIMIT = 128_000  # InvokeEndpointAsync's Body limit; larger payloads go through S3
MAX_REQUESTS = 100_000
ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")
INFERENCE_ID = re.compile(r"^\S[\x20-\x7e]{0,63}\Z")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ASCII_PRINTABLE = re.compile(r"^[\x20-\x7e]*\Z")
JSON_TYPES = re.compile(r"^application/(.+\+)?json(\s*;.*)?\Z", re.IGNORECASE)

Scalar = str | int | float | bool


def is_json_type(content_type: str) -> bool:
    return bool(JSON_TYPES.match(content_type))


def _check_s3(value: str, *, need_key: bool) -> str:
    _, key = split_s3_uri(value)
    if need_key and not key.strip("/"):
        raise ValueError(f"names a bucket, not an object: {value!r}")
    return value


class _Spec(Spec):
    """Batch files also strip the whitespace around strings (merged with Spec's config)."""

    model_config = ConfigDict(str_strip_whitespace=True)


class InvokeOptions(_Spec):
    """What InvokeEndpointAsync takes besides the payload; set in `defaults` or per request."""

    content_type: str | None = Field(None, max_length=1024)
    accept: str | None = Field(None, max_length=1024)
    custom_attributes: str | None = Field(None, max_length=1024)
    invocation_timeout_seconds: int | None = Field(None, ge=1, le=3600)
    request_ttl_seconds: int | None = Field(None, ge=60, le=21600)

    @field_validator("content_type", "accept", "custom_attributes")
    @classmethod
    def _ascii(cls, value: str | None) -> str | None:
        if value is not None and not ASCII_PRINTABLE.match(value):
            raise ValueError("must be printable ASCII")
        return value


class RequestSpec(InvokeOptions):
    """One entry of `requests`: exactly one of body / file / s3, optionally expanded."""

    body: Any = None
    file: str | None = None
    s3: str | None = None
    inference_id: str | None = None
    repeat: int = Field(1, ge=1, le=MAX_REQUESTS)
    matrix: dict[str, list[Scalar]] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RequestSpec:
        given = [name for name in ("body", "file", "s3") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of body, file or s3"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @field_validator("matrix")
    @classmethod
    def _matrix(cls, value: dict[str, list[Scalar]] | None) -> dict[str, list[Scalar]] | None:
        if value is None:
            return value
        for name, values in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name == "i":
                raise ValueError(f"matrix variable {name!r}: use a plain identifier other than i")
            if not values:
                raise ValueError(f"matrix variable {name!r} has no values")
        return value

    @field_validator("s3")
    @classmethod
    def _s3(cls, value: str | None) -> str | None:
        if value is None or PLACEHOLDER.search(value):
            return value
        return _check_s3(value, need_key=True)

    @field_validator("file")
    @classmethod
    def _file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or PLACEHOLDER.search(value):
            return value  # checked once expanded
        base = (info.context or {}).get("base_dir")
        if base is not None:
            resolve_file(value, Path(base))
        return value

    @field_validator("inference_id")
    @classmethod
    def _inference_id(cls, value: str | None) -> str | None:
        if value is None or PLACEHOLDER.search(value):
            return value
        if not INFERENCE_ID.match(value):
            raise ValueError("1-64 printable ASCII characters, not starting with a space")
        return value


class BatchSpec(_Spec):
    """A request batch file."""

    endpoint: str
    input_prefix: str | None = Field(
        None, description="s3:// prefix where payloads over 128,000 bytes are uploaded",
    )
    content_type: str = Field("application/json", max_length=1024)
    defaults: InvokeOptions = InvokeOptions()
    requests: list[RequestSpec] = Field(min_length=1)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not ENDPOINT_NAME.match(value):
            raise ValueError("1-63 letters, digits and hyphens, starting with a letter or digit")
        return value

    @field_validator("input_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        return None if value is None else _check_s3(value, need_key=False)


@dataclass(frozen=True)
class PlannedRequest:
    """One request ready to send: where its payload comes from and how to invoke."""

    index: int
    source: Literal["inline", "file", "s3"]
    body: bytes | None  # inline payloads only; files are read when sent
    path: str | None  # absolute path of a file payload
    s3_uri: str | None
    size: int | None  # bytes; None for s3 (not read)
    sha256: str
    inference_id: str | None  # None: smconsole names it from the batch id
    content_type: str
    accept: str | None
    custom_attributes: str | None
    invocation_timeout_seconds: int | None
    request_ttl_seconds: int | None
    entry: int  # its entry in `requests` (several requests share one when expanded)
    line: int | None  # where the entry is, for messages

    @property
    def needs_upload(self) -> bool:
        return self.source != "s3" and (self.size or 0) > INLINE_LIMIT


@dataclass(frozen=True)
class PlannedBatch:
    """A validated, expanded batch: the identity used to refuse accidental resubmission."""

    file: str
    name: str
    endpoint: str
    input_prefix: str | None
    requests: tuple[PlannedRequest, ...]
    content_hash: str


def resolve_file(value: str, base: Path) -> Path:
    """The payload file `value` names; relative paths may not leave the batch file's folder."""
    raw = Path(os.path.expanduser(value))
    if raw.is_absolute():
        path = raw.resolve()
    else:
        path = (base / raw).resolve()
        if not path.is_relative_to(base.resolve()):
            raise ValueError(
                f"{value!r} leaves the batch file's folder; use an absolute path if you mean it"
            )
    if not path.exists():
        raise ValueError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"not a regular file: {path}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"cannot read: {path}")
    return path


def load_batch(path: str | Path) -> PlannedBatch:
    """Validate and expand a batch file; raise SpecError with every problem found."""
    located = load_yaml(path)
    unknown = unknown_placeholders(located)
    try:
        spec = validate_located(located, BatchSpec)
    except SpecError as exc:
        # A file with several mistakes lists them all, placeholders included, in one go.
        raise SpecError(sort_problems([*exc.problems, *unknown])) from None
    if unknown:
        raise SpecError(unknown)
    return plan(located, spec)


def unknown_placeholders(located: LocatedYaml) -> list[SpecProblem]:
    """`{{name}}`s that no entry's matrix defines, read from the raw document (so they are
    reported together with every other mistake, before anything is expanded)."""
    data = located.data
    entries = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    defaults = data.get("defaults")
    inherited = defaults.get("custom_attributes") if isinstance(defaults, dict) else None
    problems = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        matrix = entry.get("matrix")
        known = {"i", *(matrix if isinstance(matrix, dict) else {})}
        fields = {name: entry.get(name) for name in ("body", "file", "s3", "inference_id")}
        fields["custom_attributes"] = entry.get("custom_attributes") or inherited
        for name, value in fields.items():
            missing = next((n for n in _placeholders(value) if n not in known), None)
            if missing is not None:
                problems.append(located.problem(
                    ("requests", index, name),
                    f"{{{{{missing}}}}} is not a matrix variable (nor i)"))
    return problems


def _placeholders(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from PLACEHOLDER.findall(value)
    elif isinstance(value, list):
        for item in value:
            yield from _placeholders(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _placeholders(item)


def plan(located: LocatedYaml, spec: BatchSpec) -> PlannedBatch:
    problems: list[SpecProblem] = []
    planned: list[PlannedRequest] = []
    base = located.folder
    # Counted from the lengths before any combination is built: a 1e9 matrix is a few lines.
    running = 0
    for entry_index, entry in enumerate(spec.requests):
        count = expansion(entry)
        running += count
        if count > MAX_REQUESTS or running > MAX_REQUESTS:
            field = "matrix" if entry.matrix else "repeat"
            message = (f"expands to {count:,} requests; at most {MAX_REQUESTS:,}"
                       if count > MAX_REQUESTS else
                       f"the batch expands past {MAX_REQUESTS:,} requests here "
                       f"({running:,} so far)")
            raise SpecError([located.problem(("requests", entry_index, field), message)])
    for entry_index, entry in enumerate(spec.requests):
        loc = ("requests", entry_index)
        bindings = _bindings(entry)
        for copy, values in enumerate(bindings):
            try:
                planned.append(_plan_one(spec, entry, values, copy, len(bindings), len(planned),
                                         base, entry_index, located.line_of(loc)))
            except _Located as exc:
                problems.append(located.problem((*loc, exc.field), exc.message))
                break  # one message per entry, not one per copy
    if not problems:
        problems.extend(_check_ids(located, planned))
    if not problems and spec.input_prefix is None:
        for request in planned:
            if request.needs_upload:
                problems.append(located.problem(
                    ("input_prefix",),
                    f"required: request at line {request.line} is {request.size:,} bytes, over "
                    f"the {INLINE_LIMIT:,}-byte inline limit, so it must be uploaded",
                ))
                break
    if problems:
        raise SpecError(sort_problems(problems))
    return PlannedBatch(
        file=str(Path(located.file).resolve()),
        name=Path(located.file).stem,
        endpoint=spec.endpoint,
        input_prefix=spec.input_prefix,
        requests=tuple(planned),
        content_hash=_content_hash(spec.endpoint, planned),
    )


class _Located(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def expansion(entry: RequestSpec) -> int:
    """How many requests an entry stands for (its matrix's combinations times `repeat`)."""
    return math.prod(len(values) for values in (entry.matrix or {}).values()) * entry.repeat


def _bindings(entry: RequestSpec) -> list[dict[str, Scalar]]:
    matrix = entry.matrix or {}
    names = list(matrix)
    combos = [dict(zip(names, combo, strict=True))
              for combo in itertools.product(*(matrix[n] for n in names))]
    return [dict(c) for c in combos for _ in range(entry.repeat)]


def _plan_one(
    spec: BatchSpec, entry: RequestSpec, values: dict[str, Scalar], copy: int, copies: int,
    index: int, base: Path, entry_index: int, line: int | None,
) -> PlannedRequest:
    values = {**values, "i": copy}
    defaults = spec.defaults
    content_type = entry.content_type or defaults.content_type or spec.content_type
    common: dict[str, Any] = {
        "index": index,
        "content_type": content_type,
        "accept": entry.accept or defaults.accept,
        "custom_attributes": _sub_text(entry.custom_attributes or defaults.custom_attributes,
                                    values, "custom_attributes"),
        "invocation_timeout_seconds": (entry.invocation_timeout_seconds
                                    or defaults.invocation_timeout_seconds),
        "request_ttl_seconds": entry.request_ttl_seconds or defaults.request_ttl_seconds,
        "inference_id": _inference_id(entry, values, copy, copies),
        "entry": entry_index,
        "line": line,
    }
    attributes = common["custom_attributes"]
    if attributes is not None and (len(attributes) > 1024 or not ASCII_PRINTABLE.match(attributes)):
        raise _Located("custom_attributes", "must be at most 1024 printable ASCII characters "
                                            f"once filled in (got {attributes[:40]!r})")
    if entry.body is not None:
        body = _encode_body(_sub_value(entry.body, values), content_type)
        return PlannedRequest(source="inline", body=body, path=None, s3_uri=None,
                              size=len(body), sha256=hashlib.sha256(body).hexdigest(), **common)
    if entry.file is not None:
        name = _sub_text(entry.file, values, "file") or ""
        try:
            path = resolve_file(name, base)
        except ValueError as exc:
            raise _Located("file", str(exc)) from None
        size, digest = _file_digest(path)
        return PlannedRequest(source="file", body=None, path=str(path), s3_uri=None,
                              size=size, sha256=digest, **common)
    uri = _sub_text(entry.s3, values, "s3") or ""
    try:
        _check_s3(uri, need_key=True)
    except ValueError as exc:
        raise _Located("s3", str(exc)) from None
    return PlannedRequest(source="s3", body=None, path=None, s3_uri=uri, size=None,
                          sha256=hashlib.sha256(uri.encode()).hexdigest(), **common)


def _inference_id(entry: RequestSpec, values: dict[str, Scalar], copy: int,
                  copies: int) -> str | None:
    if entry.inference_id is None:
        return None
    templated = PLACEHOLDER.search(entry.inference_id) is not None
    value = _sub_text(entry.inference_id, values, "inference_id") or ""
    if copies > 1 and not templated:
        value = f"{value}-{copy}"  # expanded entries need distinct ids
    if not INFERENCE_ID.match(value):
        raise _Located("inference_id", f"{value!r}: 1-64 printable ASCII characters")
    return value


def _check_ids(located: LocatedYaml, planned: list[PlannedRequest]) -> list[SpecProblem]:
    seen: dict[str, int | None] = {}
    problems = []
    for request in planned:
        if request.inference_id is None:
            continue
        if request.inference_id in seen:
            problems.append(located.problem(
                ("requests", request.entry, "inference_id"),
                f"{request.inference_id!r} is also used by the request at line "
                f"{seen[request.inference_id]}",
            ))
        else:
            seen[request.inference_id] = request.line
    return problems


def _sub_text(value: str | None, values: dict[str, Scalar], field: str) -> str | None:
    if value is None:
        return None

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise _Located(field, f"{{{{{name}}}}} is not a matrix variable (nor i)")
        return str(values[name])

    return PLACEHOLDER.sub(replace, value)


def _sub_value(value: Any, values: dict[str, Scalar]) -> Any:
    """Fill placeholders in a body; a string that is only a placeholder takes the value's type."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return _sub_text(value, values, "body")
    if isinstance(value, list):
        return [_sub_value(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _sub_value(v, values) for k, v in value.items()}
    return value


def _encode_body(value: Any, content_type: str) -> bytes:
    if is_json_type(content_type):
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise _Located("body", f"cannot be sent as JSON: {exc}") from None
    if isinstance(value, str):
        return value.encode()
    raise _Located("body", f"must be a string for content type {content_type!r} "
                           "(only JSON content types take structured bodies)")


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _content_hash(endpoint: str, planned: list[PlannedRequest]) -> str:
    digest = hashlib.sha256(endpoint.encode())
    for r in planned:
        digest.update(json.dumps([
            r.source, r.sha256, r.inference_id, r.content_type, r.accept, r.custom_attributes,
            r.invocation_timeout_seconds, r.request_ttl_seconds,
        ]).encode())
    return digest.hexdigest()
