"""specs.batch: the request-batch format, its expansion and its located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from smconsole.errors import SpecError
from smconsole.specs.batch import INLINE_LIMIT, load_batch

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(folder: Path, text: str, name: str = "batch.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def problems(path: Path) -> list[tuple[int | None, str, str]]:
    with pytest.raises(SpecError) as caught:
        load_batch(path)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_mixed_sources_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.json").write_text('{"inputs": "file"}')
    path = write(tmp_path, """\
endpoint: demo
input_prefix: s3://inputs/batches/
defaults:
  custom_attributes: trace=1
  invocation_timeout_seconds: 300
  request_ttl_seconds: 600
requests:
  - body: {inputs: hello}
  - file: in/a.json
    custom_attributes: other
  - s3: s3://inputs/existing.json
    inference_id: mine
    content_type: text/plain
""")
    batch = load_batch(path)
    inline, file, s3 = batch.requests
    assert inline.body == b'{"inputs":"hello"}' and inline.source == "inline"
    assert inline.custom_attributes == "trace=1" and inline.request_ttl_seconds == 600
    assert file.path == str(tmp_path / "in" / "a.json") and file.size == 18
    assert file.custom_attributes == "other"
    assert s3.s3_uri == "s3://inputs/existing.json" and s3.inference_id == "mine"
    assert s3.content_type == "text/plain" and inline.content_type == "application/json"
    assert not any(r.needs_upload for r in batch.requests)


def test_matrix_and_repeat_expand_with_typed_placeholders(tmp_path: Path) -> None:
    path = write(tmp_path, """\
endpoint: demo
requests:
  - body: {inputs: "{{word}} #{{i}}", n: "{{n}}"}
    matrix: {word: [a, b], n: [1, 2]}
    repeat: 2
    inference_id: "x-{{word}}-{{n}}-{{i}}"
""")
    batch = load_batch(path)
    bodies = [json.loads(r.body or b"") for r in batch.requests]
    assert len(bodies) == 8
    assert bodies[0] == {"inputs": "a #0", "n": 1}
    assert bodies[-1] == {"inputs": "b #7", "n": 2}
    assert len({r.inference_id for r in batch.requests}) == 8


def test_expanded_fixed_inference_id_gets_suffixes(tmp_path: Path) -> None:
    path = write(tmp_path, "endpoint: e\nrequests:\n  - body: {}\n    repeat: 3\n"
                           "    inference_id: same\n")
    assert [r.inference_id for r in load_batch(path).requests] == ["same-0", "same-1", "same-2"]


def test_content_hash_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    a = write(tmp_path, "endpoint: e\nrequests:\n  - body: {x: 1}\n", "a.yaml")
    b = write(tmp_path, "# a comment\nendpoint: e\nrequests:\n  - body: {x: 1}\n", "b.yaml")
    c = write(tmp_path, "endpoint: e\nrequests:\n  - body: {x: 2}\n", "c.yaml")
    assert load_batch(a).content_hash == load_batch(b).content_hash
    assert load_batch(a).content_hash != load_batch(c).content_hash


def test_every_problem_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, """\
endpoint: not a name
defaults:
  request_ttl_seconds: 5
requests:
  - body: {inputs: x}
    file: in.json
  - file: ../outside.json
  - file: missing.json
  - s3: http://bucket/key
    colour: red
  - inference_id: [1]
    body: {}
""")
    found = problems(path)
    assert (1, "endpoint", "1-63 letters, digits and hyphens, starting with a letter or digit") \
        in found
    assert (3, "defaults.request_ttl_seconds", "Input should be greater than or equal to 60") \
        in found
    messages = {(line, field): message for line, field, message in found}
    assert "leaves the batch file's folder" in messages[(7, "requests[1].file")]
    assert messages[(8, "requests[2].file")].startswith("no such file")
    assert "not an s3://" in messages[(9, "requests[3].s3")]
    assert messages[(10, "requests[3].colour")] == "unknown field"
    assert messages[(11, "requests[4].inference_id")] == "Input should be a valid string"


def test_two_sources_and_no_source(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text("{}")
    path = write(tmp_path, "endpoint: e\nrequests:\n  - body: {}\n    file: in.json\n"
                           "  - inference_id: a\n")
    found = problems(path)
    assert (3, "requests[0]", "give exactly one of body, file or s3 (got body, file)") in found
    assert (5, "requests[1]", "give exactly one of body, file or s3") in found


def test_absolute_paths_may_leave_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (tmp_path / "sub").mkdir()
    path = write(tmp_path / "sub", f"endpoint: e\nrequests:\n  - file: {outside}\n")
    assert load_batch(path).requests[0].path == str(outside)


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "link.json").symlink_to(tmp_path / "secret.json")
    path = write(tmp_path / "sub", "endpoint: e\nrequests:\n  - file: link.json\n")
    ((line, field, message),) = problems(path)
    assert (line, field) == (3, "requests[0].file") and "leaves" in message


def test_unknown_placeholder(tmp_path: Path) -> None:
    path = write(tmp_path, "endpoint: e\nrequests:\n  - body: {a: \"{{nope}}\"}\n")
    assert problems(path) == [(3, "requests[0].body", "{{nope}} is not a matrix variable (nor i)")]



def test_an_unknown_placeholder_is_listed_with_every_other_mistake(tmp_path: Path) -> None:
    path = write(tmp_path, """\
endpoint: e
defaults:
  request_ttl_seconds: 5
requests:
  - body: {a: "{{nope}}"}
  - body: {}
    colour: red
  - s3: "s3://bucket/{{animal}}/{{gone}}.json"
    matrix: {animal: [cat]}
""")
    assert problems(path) == [
        (3, "defaults.request_ttl_seconds", "Input should be greater than or equal to 60"),
        (5, "requests[0].body", "{{nope}} is not a matrix variable (nor i)"),
        (7, "requests[1].colour", "unknown field"),
        (8, "requests[2].s3", "{{gone}} is not a matrix variable (nor i)"),
    ]

def test_duplicate_inference_ids(tmp_path: Path) -> None:
    path = write(tmp_path, """\
endpoint: e
requests:
  - body: {}
    inference_id: same
  - body: {}
    inference_id: same
""")
    assert problems(path) == [
        (6, "requests[1].inference_id", "'same' is also used by the request at line 3"),
    ]


def test_large_payload_needs_an_input_prefix(tmp_path: Path) -> None:
    (tmp_path / "big.json").write_text(json.dumps({"inputs": "x" * INLINE_LIMIT}))
    path = write(tmp_path, "endpoint: e\nrequests:\n  - file: big.json\n")
    ((_, field, message),) = problems(path)
    assert field == "input_prefix" and "over the 128,000-byte inline limit" in message
    ok = write(tmp_path, "endpoint: e\ninput_prefix: s3://b-in/x/\nrequests:\n"
                         "  - file: big.json\n", "ok.yaml")
    assert load_batch(ok).requests[0].needs_upload


def test_non_json_content_type_needs_string_body(tmp_path: Path) -> None:
    path = write(tmp_path, "endpoint: e\ncontent_type: text/csv\nrequests:\n"
                           "  - body: [1, 2]\n  - body: \"1,2\\n\"\n")
    ((line, field, message),) = problems(path)
    assert (line, field) == (4, "requests[0].body") and "must be a string" in message


def test_dates_in_body_are_not_json(tmp_path: Path) -> None:
    path = write(tmp_path, "endpoint: e\nrequests:\n  - body: {when: 2026-01-01}\n")
    ((line, field, message),) = problems(path)
    assert (line, field) == (3, "requests[0].body") and "cannot be sent as JSON" in message


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("requests-*.yaml")), ids=lambda p: p.name)
def test_shipped_examples_load(config: Path) -> None:
    assert load_batch(config).requests


def test_filled_in_custom_attributes_must_stay_ascii(tmp_path: Path) -> None:
    path = write(tmp_path, "endpoint: e\nrequests:\n  - body: {}\n"
                           "    custom_attributes: \"who={{who}}\"\n    matrix: {who: [ok, café]}\n")
    ((line, field, message),) = problems(path)
    assert (line, field) == (4, "requests[0].custom_attributes") and "ASCII" in message
