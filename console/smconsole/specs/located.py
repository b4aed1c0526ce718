"""Operator YAML with its node tree kept, so every validation error names file:line: field.

`load_spec(path, Model)` is the whole API most callers need; `LocatedYaml` and
`problems_from_validation` are there for loaders that add checks of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from smconsole.errors import SpecError, SpecProblem

# The C loader is ~10x faster; both are "safe": no arbitrary Python objects from user files.
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Bounds checked on the event stream, before any node is built: the composer recurses (a
# deep file overflows the C stack), and an alias is one object that every later walk (pydantic,
# placeholders, JSON) visits once per reference, so nine levels of nine aliases are a billion.
MAX_DEPTH = 100
MAX_VALUES = 2_000_000  # scalars and collections once every alias is expanded

Loc = Sequence[str | int]
M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class LocatedYaml:
    """A parsed YAML document and the node tree it came from."""

    file: str
    data: Any
    root: yaml.Node | None

    @property
    def folder(self) -> Path:
        return Path(self.file).resolve().parent

    def line_of(self, loc: Loc) -> int | None:
        """The 1-based line of the deepest node `loc` reaches (a missing key: its mapping)."""
        return _walk(self.root, loc)[0]

    def field_of(self, loc: Loc) -> str:
        """`loc` as people write it: `requests[2].body`, with pydantic's union tags dropped."""
        return _format_field(_walk(self.root, loc)[1])

    def problem(self, loc: Loc, message: str) -> SpecProblem:
        line, path = _walk(self.root, loc)
        return SpecProblem(self.file, line, _format_field(path), message)


def load_yaml(path: str | Path) -> LocatedYaml:
    """Parse `path` with the safe loader; syntax errors and unreadable files become SpecError."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError([SpecProblem(file, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise SpecError([SpecProblem(file, None, "", "is a folder, not a YAML file")]) from None
    except OSError as exc:
        raise SpecError([SpecProblem(file, None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError([SpecProblem(file, line, "", "not UTF-8 text")]) from None
    return parse_yaml(text, file)


def parse_yaml(text: str, file: str = "<string>") -> LocatedYaml:
    """Parse YAML text: one document, duplicate keys refused (PyYAML would keep the last),
    nesting and alias expansion bounded before anything is built."""
    check_shape(text, file)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        message = str(exc.problem or exc.context or "invalid YAML")
        if exc.context and exc.problem:
            # "while parsing a flow sequence" is only useful with where that sequence began.
            where = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            message += f" ({exc.context}{where})"
        raise SpecError([SpecProblem(file, line, "", f"YAML syntax: {message}")]) from None
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", None)
        line = None if position is None else text[:position].count("\n") + 1
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise SpecError([SpecProblem(file, line, "", f"YAML: {reason}")]) from None
    except RecursionError:
        raise SpecError([SpecProblem(file, None, "", "YAML nested too deeply")]) from None
    finally:
        loader.dispose()
    located = LocatedYaml(file, data, root)
    duplicates = list(_duplicate_keys(located, root, ()))
    if duplicates:
        raise SpecError(duplicates)
    return located


@dataclass
class _Open:
    """A collection being read from the event stream: where it is and what it holds so far."""

    mapping: bool
    size: int = 1
    anchor: str | None = None
    key: object = None  # the current key (mapping) or index (sequence) of the next child
    expect_key: bool = True
    count: int = 0


def check_shape(text: str, file: str = "<string>") -> None:
    """Refuse, at file:line: field, a document nested past MAX_DEPTH or whose aliases expand
    it past MAX_VALUES. Reads parser events only (libyaml's parser keeps its own stack)."""
    loader = _Loader(text)
    stack: list[_Open] = []
    sizes: dict[str, int] = {}  # anchor -> values it stands for
    total = 0
    try:
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                done = stack.pop()
                if done.anchor:
                    sizes[done.anchor] = done.size
                _child_done(stack, done.size)
                continue
            if not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent,
                                      yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                continue
            field = _format_field(_event_path(stack))
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                size = sizes.get(event.anchor, 1)
                total += size
                if total > MAX_VALUES:
                    raise SpecError([SpecProblem(
                        file, line, field,
                        f"aliases expand the file past {MAX_VALUES:,} values (*{event.anchor} "
                        f"alone stands for {size:,}); write the values out or use fewer aliases",
                    )])
                _child_done(stack, size)
                continue
            total += 1
            if isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    sizes[event.anchor] = 1
                if stack and stack[-1].mapping and stack[-1].expect_key:
                    stack[-1].key = event.value
                _child_done(stack, 1)
                continue
            if len(stack) >= MAX_DEPTH:
                path = _event_path(stack)
                short = _format_field(path[:6]) + ("…" if len(path) > 6 else "")
                raise SpecError([SpecProblem(
                    file, line, short, f"nested more than {MAX_DEPTH} levels deep")])
            if stack and stack[-1].mapping and stack[-1].expect_key:
                stack[-1].key = "?"  # a collection as a key: only its line is useful
            stack.append(_Open(mapping=isinstance(event, yaml.MappingStartEvent),
                               anchor=event.anchor))
    except yaml.YAMLError:
        return  # a syntax error: reported, located, by the real parse that follows
    finally:
        loader.dispose()


def _event_path(stack: list[_Open]) -> list[str | int]:
    path: list[str | int] = []
    for frame in stack:
        if frame.mapping:
            if not frame.expect_key:
                path.append(str(frame.key))
        else:
            path.append(frame.count)
    return path


def _child_done(stack: list[_Open], size: int) -> None:
    if not stack:
        return
    parent = stack[-1]
    parent.size += size
    if parent.mapping:
        parent.expect_key = not parent.expect_key
    else:
        parent.count += 1


def problems_from_validation(
    located: LocatedYaml, exc: pydantic.ValidationError, prefix: Loc = (),
) -> list[SpecProblem]:
    """One located problem per pydantic error, in file order."""
    problems = [
        located.problem((*prefix, *err["loc"]), _message(err))
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return sort_problems(problems)


def sort_problems(problems: Iterable[SpecProblem]) -> list[SpecProblem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line if p.line is not None else 0, p.field))


def load_spec(
    path: str | Path, model_cls: type[M], *, context: Mapping[str, Any] | None = None,
) -> M:
    """Load and validate an operator file; raise SpecError listing every problem found.

    The validation context always carries `base_dir` (the file's folder) and `file`, so
    validators can resolve relative paths.
    """
    located = load_yaml(path)
    return validate_located(located, model_cls, context=context)


def validate_located(
    located: LocatedYaml, model_cls: type[M], *, context: Mapping[str, Any] | None = None,
) -> M:
    if located.data is None:
        raise SpecError([SpecProblem(located.file, None, "", "the file is empty")])
    ctx = {"base_dir": located.folder, "file": located.file, **(context or {})}
    try:
        return model_cls.model_validate(located.data, context=ctx)
    except pydantic.ValidationError as exc:
        raise SpecError(problems_from_validation(located, exc)) from None
    except RecursionError:
        raise SpecError([SpecProblem(located.file, None, "", "nested too deeply")]) from None


def _message(err: Any) -> str:
    msg = str(err.get("msg", "invalid"))
    # Pydantic prefixes errors raised by our validators; the operator needs only the reason.
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field missing"
    if kind in ("model_type", "model_attributes_type", "dict_type") and not err.get("loc"):
        return "the file should be a mapping of fields (key: value)"
    return msg


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _walk(root: yaml.Node | None, loc: Loc) -> tuple[int | None, list[str | int]]:
    """Follow `loc` down the node tree; return the line reached and the real field path.

    Elements that match nothing are pydantic's union/validator tags when something after them
    matches, and the name of a missing field when nothing does. A field's line is its key's
    (a block list under a key starts on the next line; the reader looks for the key).
    """
    node = root
    line = None if root is None else _line(root)
    path: list[str | int] = []
    items = list(loc)
    i = 0
    while i < len(items):
        step = items[i]
        found = _child(node, step)
        if found is not None:
            line, node = found
            path.append(step)
            i += 1
            continue
        if any(_child(node, later) is not None for later in items[i + 1:]):
            i += 1  # a tag such as "function-after[...]" or a union member's name
            continue
        path.extend(s for s in items[i:] if not _looks_like_tag(s))
        break
    return line, path


def _child(node: yaml.Node | None, step: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return _line(key), value
        return None
    if (isinstance(node, yaml.SequenceNode) and isinstance(step, int)
            and 0 <= step < len(node.value)):
        item = node.value[step]
        return _line(item), item
    return None


def _looks_like_tag(step: str | int) -> bool:
    return isinstance(step, str) and "[" in step


def _format_field(path: Iterable[str | int]) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


def _duplicate_keys(
    located: LocatedYaml, node: yaml.Node | None, loc: tuple[str | int, ...],
    seen: set[int] | None = None,
) -> Iterable[SpecProblem]:
    seen = set() if seen is None else seen
    if node is None or id(node) in seen:  # anchors/aliases can make the tree a graph
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in keys and key.value != "<<":
                    field = _format_field([*loc, key.value])
                    yield SpecProblem(located.file, _line(key), field, "duplicate key")
                keys.add(key.value)
                yield from _duplicate_keys(located, value, (*loc, key.value), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(located, item, (*loc, index), seen)
