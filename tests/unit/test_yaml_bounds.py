"""Hostile YAML: alias bombs, deep nesting and huge matrices are refused, located, at once.

Every file the console reads (request batches, deploy specs, scaling policies) goes through
the same loader, so each bound is checked for all three.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fixtures.batch_files import write_batch
from smconsole import errors
from smconsole.specs.batch import load_batch
from smconsole.specs.deploy import load_deploy_spec
from smconsole.specs.located import MAX_DEPTH
from smconsole.specs.scaling import load_scaling_spec


def alias_bomb(indent: str) -> str:
    """Nine levels of nine aliases: under 600 bytes, 9**9 values once expanded."""
    lines = [f"{indent}a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{indent}a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def refused_quickly(load: Callable[[Path], object], path: Path) -> errors.SpecProblem:
    started = time.monotonic()
    with pytest.raises(errors.SpecError) as caught:
        load(path)
    assert time.monotonic() - started < 5
    (problem,) = caught.value.problems
    assert problem.file == str(path) and problem.line is not None and problem.field
    return problem


def test_a_589_byte_alias_bomb_is_refused_at_its_alias(tmp_path: Path) -> None:
    text = "endpoint: e\nrequests:\n  - body:\n" + alias_bomb("      ")
    assert len(text.encode()) < 600
    problem = refused_quickly(load_batch, write_batch(tmp_path, text))
    assert problem.field.startswith("requests[0].body.a")
    assert "aliases expand" in problem.message


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    text = ("endpoint: e\ndefaults: &d {custom_attributes: a=1}\nrequests:\n"
            "  - body: &b {inputs: [x, y]}\n  - body: *b\n    custom_attributes: b=2\n")
    planned = load_batch(write_batch(tmp_path, text))
    assert [r.body for r in planned.requests] == [b'{"inputs":["x","y"]}'] * 2


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500])
def test_deep_nesting_is_a_located_error_not_a_traceback(tmp_path: Path, depth: int) -> None:
    text = f"endpoint: e\nrequests:\n  - body: {nested(depth)}\n"
    problem = refused_quickly(load_batch, write_batch(tmp_path, text))
    assert (problem.line, problem.field) == (3, "requests[0].body[0][0][0]…")
    assert problem.message == f"nested more than {MAX_DEPTH} levels deep"


def test_nesting_up_to_the_bound_loads(tmp_path: Path) -> None:
    text = f"endpoint: e\nrequests:\n  - body: {nested(MAX_DEPTH - 3)}\n"
    assert load_batch(write_batch(tmp_path, text)).requests[0].size == 2 * (MAX_DEPTH - 3)


def test_30000_levels_do_not_crash_the_cli(tmp_path: Path) -> None:
    # libyaml's composer recursed in C: this was a segfault, so it runs in its own process.
    path = write_batch(tmp_path, f"endpoint: e\nrequests:\n  - body: {nested(30_000)}\n")
    result = subprocess.run(
        [sys.executable, "-m", "smconsole", "submit", str(path), "--endpoint-url",
         "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == (f"smconsole: {path}:3: requests[0].body[0][0][0]…: "
                             f"nested more than {MAX_DEPTH} levels deep\n")


def test_a_billion_combination_matrix_is_refused_before_it_is_built(tmp_path: Path) -> None:
    variables = "".join(f"      v{n}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for n in range(9))
    text = f"endpoint: e\nrequests:\n  - body: {{}}\n  - body: {{}}\n    matrix:\n{variables}"
    problem = refused_quickly(load_batch, write_batch(tmp_path, text))
    assert (problem.line, problem.field) == (5, "requests[1].matrix")
    assert problem.message == "expands to 1,000,000,000 requests; at most 100,000"


def test_entries_that_together_pass_the_cap_name_the_one_that_does(tmp_path: Path) -> None:
    text = ("endpoint: e\nrequests:\n  - body: {}\n    repeat: 60000\n"
            "  - body: {}\n    repeat: 60000\n")
    problem = refused_quickly(load_batch, write_batch(tmp_path, text))
    assert (problem.line, problem.field) == (6, "requests[1].repeat")
    assert "past 100,000 requests" in problem.message


DEPLOY = """\
name: demo
model:
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/c:latest
  data: s3://my-bucket/models/model.tar.gz
  execution_role_arn: arn:aws:iam::123456789012:role/r
  environment:
    X: "1"
variant:
  instance_type: ml.m5.large
async:
  output_path: s3://my-bucket/out
"""


def test_deploy_specs_and_policies_get_the_same_bounds(tmp_path: Path) -> None:
    spec = tmp_path / "deploy.yaml"
    spec.write_text(DEPLOY.replace('    X: "1"\n', alias_bomb("    ")))
    assert refused_quickly(load_deploy_spec, spec).field.startswith("model.environment.a")
    spec.write_text(DEPLOY + f"tags: {nested(600)}\n")
    assert refused_quickly(load_deploy_spec, spec).field == "tags[0][0][0][0][0]…"
    policy = tmp_path / "policy.yaml"
    policy.write_text("min_capacity: 0\nmax_capacity: 2\nx:\n" + alias_bomb("  "))
    assert "aliases expand" in refused_quickly(load_scaling_spec, policy).message
