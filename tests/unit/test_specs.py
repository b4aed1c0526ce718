"""Deploy and scaling specs: the shipped configs load, and every kind of mistake is located."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smconsole import errors
from smconsole.locations import configs_dir
from smconsole.specs.deploy import DeploySpec, load_deploy_spec
from smconsole.specs.scaling import load_scaling_spec

GOOD = """\
name: demo
model:
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/c:latest
  data: s3://my-bucket/models/model.tar.gz
  execution_role_arn: arn:aws:iam::123456789012:role/r
variant:
  instance_type: ml.m5.large
async:
  output_path: s3://my-bucket/out
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", sorted(configs_dir().glob("deploy-*.yaml")), ids=lambda p: p.name)
def test_shipped_deploy_specs_load(path: Path) -> None:
    spec = load_deploy_spec(path)
    assert spec.update is True
    assert spec.autoscaling is not None and spec.autoscaling.scale_out_from_zero is not None


def test_demo_spec_matches_the_local_stack() -> None:
    spec = load_deploy_spec(configs_dir() / "deploy-demo.yaml")
    assert spec.name == "smconsole-demo"
    assert spec.model.data == "s3://smconsole-local-demo/models/all-minilm-l6-v2/model.tar.gz"
    assert spec.model.environment["MODEL_DIR"] == "/opt/ml/model/model"
    assert spec.variant.name == "AllTraffic"
    assert (spec.autoscaling.min_capacity, spec.autoscaling.max_capacity) == (0, 2)


def test_shipped_scaling_spec_loads() -> None:
    spec = load_scaling_spec(configs_dir() / "scaling-scale-to-zero.yaml")
    assert spec.min_capacity == 0 and spec.target_tracking[0].effective_statistic == "Average"


def test_minimal_spec_defaults(tmp_path: Path) -> None:
    spec = load_deploy_spec(write(tmp_path, GOOD))
    assert spec.variant.name == "AllTraffic" and spec.variant.instance_count == 1
    assert spec.update is False and spec.autoscaling is None
    model, config = spec.resource_names(datetime(2026, 11, 25, 8, 30, 5, tzinfo=UTC))
    assert model == config == "demo-20261125-083005"


@pytest.mark.parametrize(("old", "new", "line", "field", "words"), [
    ("name: demo", "name: -bad-", 1, "name", "invalid endpoint name"),
    ("name: demo", "name: " + "a" * 48, 1, "name", "at most 47"),
    ("  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/c:latest", "  image: Not An Image",
     3, "model.image", "image reference"),
    ("  data: s3://my-bucket/models/model.tar.gz", "  data: https://x/model.tar.gz", 4,
     "model.data", "s3://"),
    ("  data: s3://my-bucket/models/model.tar.gz", "  data: s3://My_Bucket/m.tar.gz", 4,
     "model.data", "bucket"),
    ("  execution_role_arn: arn:aws:iam::123456789012:role/r",
     "  execution_role_arn: arn:aws:iam::12:user/r", 5, "model.execution_role_arn", "role ARN"),
    ("  instance_type: ml.m5.large", "  instance_type: m5.large", 7, "variant.instance_type",
     "instance type"),
    ("  output_path: s3://my-bucket/out", "  output_path: s3://my-bucket/out\n  colour: red", 10,
     "async.colour", "unknown field"),
])
def test_mistakes_are_located(tmp_path: Path, old: str, new: str, line: int, field: str,
                              words: str) -> None:
    with pytest.raises(errors.SpecError) as caught:
        load_deploy_spec(write(tmp_path, GOOD.replace(old, new)))
    problem = caught.value.problems[0]
    assert (problem.line, problem.field) == (line, field)
    assert words in problem.message
    assert str(problem).startswith(f"{tmp_path / 'spec.yaml'}:{line}: {field}:")



@pytest.mark.parametrize(("old", "new", "line", "field"), [
    ("name: demo", 'name: "demo\\n"', 1, "name"),
    ("  execution_role_arn: arn:aws:iam::123456789012:role/r",
     '  execution_role_arn: "arn:aws:iam::123456789012:role/r\\n"', 5,
     "model.execution_role_arn"),
    ("  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/c:latest",
     '  image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/c:latest\\n"', 3, "model.image"),
    ("  data: s3://my-bucket/models/model.tar.gz",
     '  data: "s3://my-bucket/models/model.tar.gz\\n"', 4, "model.data"),
    ("  instance_type: ml.m5.large", '  instance_type: "ml.m5.large\\n"', 7,
     "variant.instance_type"),
    ("  instance_type: ml.m5.large", '  name: "AllTraffic\\n"\n  instance_type: ml.m5.large', 7,
     "variant.name"),
    ("  output_path: s3://my-bucket/out",
     '  output_path: s3://my-bucket/out\n  kms_key: "alias/k\\n"', 10, "async.kms_key"),
])
def test_a_trailing_newline_is_refused_here_not_by_the_api(
        tmp_path: Path, old: str, new: str, line: int, field: str) -> None:
    # Python's `$` also matches before a final newline; the patterns end in \\Z.
    with pytest.raises(errors.SpecError) as caught:
        load_deploy_spec(write(tmp_path, GOOD.replace(old, new)))
    assert [(p.line, p.field) for p in caught.value.problems] == [(line, field)]


def test_a_trailing_newline_in_a_policy_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("min_capacity: 0\nmax_capacity: 2\ntarget_tracking:\n"
                    "  - {metric: ApproximateBacklogSizePerInstance, target: 5, name: \"p\\n\"}\n")
    with pytest.raises(errors.SpecError) as caught:
        load_scaling_spec(path)
    assert [p.field for p in caught.value.problems] == ["target_tracking[0].name"]


def test_the_no_region_hint_names_what_boto3_reads(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from smconsole.session import AwsSession

    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(errors.NotConfigured) as caught:
        AwsSession().client("sagemaker")
    assert "AWS_DEFAULT_REGION" in str(caught.value) and "AWS_REGION," not in str(caught.value)
    assert "--region" in str(caught.value) and "profile" in str(caught.value)

def test_notifications_need_their_topics(tmp_path: Path) -> None:
    text = GOOD + ("  notifications:\n    success_topic: arn:aws:sns:us-east-1:123456789012:ok\n"
                   "    include_inference_response_in: [ERROR_NOTIFICATION_TOPIC]\n")
    with pytest.raises(errors.SpecError, match="ERROR_NOTIFICATION_TOPIC listed but"):
        load_deploy_spec(write(tmp_path, text))


@pytest.mark.parametrize(("block", "words"), [
    ("autoscaling:\n  min_capacity: 3\n  max_capacity: 2\n", "must not exceed"),
    ("autoscaling:\n  max_capacity: 2\n", "needs min_capacity and max_capacity"),
    (("autoscaling:\n  min_capacity: 0\n  max_capacity: 2\n  target_tracking:\n"
      "    - {metric: Bogus, target: 1}\n"), "ApproximateBacklogSizePerInstance"),
    (("autoscaling:\n  min_capacity: 0\n  max_capacity: 2\n  target_tracking:\n"
      "    - {metric: ApproximateAgeOfOldestRequest, target: 1}\n"
      "    - {metric: ApproximateAgeOfOldestRequest, target: 2}\n"), "one target-tracking policy"),
])
def test_autoscaling_block_checked(tmp_path: Path, block: str, words: str) -> None:
    with pytest.raises(errors.SpecError, match=words):
        load_deploy_spec(write(tmp_path, GOOD + block))


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("ml.m5.large", "huge").replace("s3://my-bucket/out", "nowhere")
    with pytest.raises(errors.SpecError) as caught:
        load_deploy_spec(write(tmp_path, text))
    assert [p.field for p in caught.value.problems] == ["variant.instance_type",
                                                        "async.output_path"]


def test_spec_is_frozen() -> None:
    spec = load_deploy_spec(configs_dir() / "deploy-demo.yaml")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type is internal
        spec.name = "other"  # type: ignore[misc]
    assert isinstance(spec, DeploySpec)


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6),
                         st.floats(allow_nan=False), st.text(max_size=30))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)
SPEC_KEYS = ["name", "update", "model", "variant", "async", "autoscaling", "tags", "image",
             "data", "min_capacity", "max_capacity", "target_tracking"]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(st.sampled_from(SPEC_KEYS), yaml_values, max_size=7))
def test_any_yaml_is_a_spec_or_a_located_error(tmp_path: Path, doc: dict[str, object]) -> None:
    import yaml

    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(doc))
    for loader in (load_deploy_spec, load_scaling_spec):
        try:
            loader(path)
        except errors.SpecError as exc:
            assert exc.problems and all(p.file == str(path) for p in exc.problems)
