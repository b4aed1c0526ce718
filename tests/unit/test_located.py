"""specs.located: YAML errors, pydantic errors and missing files all come back located."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from smconsole.errors import SpecError, SpecProblem
from smconsole.specs.located import load_spec, load_yaml, parse_yaml, validate_located


class Item(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str
    size: int = 1


class Doc(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    title: str
    items: list[Item] = []
    tags: dict[str, str] = {}

    @pydantic.field_validator("title")
    @classmethod
    def _title(cls, value: str, info: pydantic.ValidationInfo) -> str:
        if value == "bad":
            raise ValueError(f"bad title under {info.context['base_dir'].name}")
        return value


def problems(text: str, model: type[pydantic.BaseModel] = Doc) -> list[SpecProblem]:
    with pytest.raises(SpecError) as caught:
        validate_located(parse_yaml(text, "spec.yaml"), model)
    return caught.value.problems


def test_valid_document_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("title: t\nitems:\n  - name: a\n    size: 3\n")
    doc = load_spec(path, Doc)
    assert doc.items == [Item(name="a", size=3)]


def test_every_error_is_reported_with_line_and_field() -> None:
    text = (
        "title: t\n"          # 1
        "items:\n"            # 2
        "  - name: a\n"       # 3
        "    size: big\n"     # 4
        "  - size: 2\n"       # 5
        "  - name: c\n"       # 6
        "    colour: red\n"   # 7
        "extra: 1\n"          # 8
    )
    found = {(p.line, p.field, p.message) for p in problems(text)}
    size_msg = "Input should be a valid integer, unable to parse string as an integer"
    assert (4, "items[0].size", size_msg) in found
    assert (5, "items[1].name", "required field missing") in found
    assert (7, "items[2].colour", "unknown field") in found
    assert (8, "extra", "unknown field") in found
    assert len(found) == 4


def test_problems_come_in_file_order() -> None:
    found = problems("extra: 1\nitems:\n  - size: x\n")
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)


def test_missing_top_level_field_points_at_the_document() -> None:
    (only,) = problems("items: []\n")
    assert (only.line, only.field, only.message) == (1, "title", "required field missing")


def test_block_value_is_located_at_its_key() -> None:
    (only,) = problems("title: t\ntags:\n  a: [1]\n")
    assert only.line == 3 and only.field == "tags.a"


def test_validator_messages_lose_pydantic_prefix_and_see_base_dir(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("title: bad\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path, Doc)
    (only,) = caught.value.problems
    assert str(only) == f"{path}:1: title: bad title under {tmp_path.name}"


def test_syntax_error_is_located() -> None:
    (only,) = problems("title: t\nitems: [\n  - x\n")
    assert only.line is not None and only.line >= 2
    assert only.message.startswith("YAML syntax:")


def test_duplicate_keys_are_refused() -> None:
    (only,) = problems("title: a\ntitle: b\n")
    assert (only.line, only.field, only.message) == (2, "title", "duplicate key")


def test_python_tags_are_refused_not_constructed() -> None:
    (only,) = problems("title: !!python/object/apply:os.getcwd []\n")
    assert "constructor" in only.message


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    (only,) = problems(text)
    assert only.message == "the file is empty"


@pytest.mark.parametrize("text", ["- a\n", "just text\n", "&a [*a]\n"])
def test_non_mapping_document(text: str) -> None:
    (only,) = problems(text)
    assert only.message == "the file should be a mapping of fields (key: value)"


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: file not found"
    with pytest.raises(SpecError, match="is a folder"):
        load_yaml(tmp_path)


def test_non_utf8_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"title: ok\nname: caf\xe9\n")
    with pytest.raises(SpecError) as caught:
        load_yaml(path)
    (only,) = caught.value.problems
    assert only.line == 2 and only.message == "not UTF-8 text"


def test_line_of_and_field_of_cross_union_tags() -> None:
    located = parse_yaml("a:\n  - x: 1\n    y: 2\n", "f.yaml")
    assert located.line_of(("a", 0, "function-after[check()]", "y")) == 3
    assert located.field_of(("a", 0, "function-after[check()]", "y")) == "a[0].y"
    assert located.line_of(("a", 0, "missing")) == 2
    assert located.problem(("a", 5), "no").line == 1
