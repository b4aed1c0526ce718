"""Property: whatever YAML the batch loader is fed, it answers a batch or a SpecError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smconsole.errors import SpecError
from smconsole.specs.batch import load_batch

KEYS = ["endpoint", "input_prefix", "content_type", "defaults", "requests", "body", "file",
        "s3", "inference_id", "repeat", "matrix", "custom_attributes", "accept",
        "invocation_timeout_seconds", "request_ttl_seconds", "i", "x", ""]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70_000), st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["demo", "s3://bucket/key.json", "s3://B/k", "payload.json", "../x.json",
                     "/etc/hostname", "{{i}}", "{{nope}}", "application/json", "text/csv",
                     "~/x", "s3://bucket/", "a" * 70]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.integers(0, 3)), inner, max_size=5),
    ),
    max_leaves=25,
)
raw_text = st.text(
    alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`,?\n\t 0123456789.\\") + ["\x00", "é"]),
    max_size=80,
)


def check(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "batch.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        (Path(folder) / "payload.json").write_text("{}")
        try:
            batch = load_batch(path)
        except SpecError as exc:
            assert exc.problems and all(p.file == str(path) for p in exc.problems)
            return
        assert batch.requests


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_structured_yaml_gives_a_batch_or_spec_error(doc: object) -> None:
    check(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=300, deadline=None)
@given(raw_text)
def test_arbitrary_text_gives_a_batch_or_spec_error(text: str) -> None:
    check(text)


@settings(max_examples=150, deadline=None)
@given(documents, st.integers(0, 200), raw_text)
def test_mangled_yaml_gives_a_batch_or_spec_error(doc: object, at: int, noise: str) -> None:
    text = yaml.safe_dump({"endpoint": "demo", "requests": [{"body": doc}]})
    check(text[:at] + noise + text[at:])
