"""The image definition, parsed: what SageMaker needs from it, without a Docker engine."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

CONTAINER = Path(__file__).resolve().parents[2] / "container"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((CONTAINER / "Dockerfile").read_text())


def args_of(dockerfile: list[tuple[str, str]], keyword: str) -> list[str]:
    return [rest for kw, rest in dockerfile if kw == keyword]


def final_stage(dockerfile: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (kw, _) in enumerate(dockerfile) if kw == "FROM")
    return dockerfile[last_from:]


def resolved_base(dockerfile: list[tuple[str, str]]) -> str:
    defaults = dict(rest.split("=", 1) for rest in args_of(dockerfile, "ARG") if "=" in rest)
    base = final_stage(dockerfile)[0][1].split()[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], base)


def test_the_runtime_base_image_carries_cuda(dockerfile) -> None:
    base = resolved_base(dockerfile)
    assert re.fullmatch(r"nvidia/cuda:\d+\.\d+(\.\d+)?-(cudnn-)?runtime-ubuntu\d+\.\d+", base), base


def test_entrypoint_is_exec_form_and_accepts_serve(dockerfile) -> None:
    (entrypoint,) = args_of(final_stage(dockerfile), "ENTRYPOINT")
    argv = json.loads(entrypoint)  # exec form is a JSON array; shell form would not parse
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    assert argv[-1].endswith("run_server.py")
    assert "tini" not in entrypoint
    assert not args_of(final_stage(dockerfile), "CMD")  # `serve` replaces CMD anyway
    source = (CONTAINER / "run_server.py").read_text()
    assert '["serve"]' in source


def test_port_8080_is_exposed_and_bind_to_port_declared(dockerfile) -> None:
    stage = final_stage(dockerfile)
    assert args_of(stage, "EXPOSE") == ["8080"]
    labels = " ".join(args_of(stage, "LABEL"))
    assert "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in labels


def test_caches_live_under_tmp_and_the_hub_stays_offline(dockerfile) -> None:
    env = " ".join(args_of(final_stage(dockerfile), "ENV"))
    settings = dict(token.split("=", 1) for token in shlex.split(env) if "=" in token)
    assert settings["HF_HOME"].startswith("/tmp/")
    assert settings["HF_HUB_OFFLINE"] == "1"
    assert settings["PYTHONUNBUFFERED"] == "1"


def test_no_user_switch_and_no_weights_copied(dockerfile) -> None:
    assert not args_of(dockerfile, "USER")  # SageMaker expects root
    copied = " ".join(args_of(final_stage(dockerfile), "COPY"))
    assert "/opt/ml" not in copied
    assert not re.search(r"\.(safetensors|bin|pt|gguf)\b", copied)


def test_requirements_are_all_pinned() -> None:
    lines = (CONTAINER / "requirements.txt").read_text().splitlines()
    requirements = [
        line.split("#")[0].strip()
        for line in lines
        if line.split("#")[0].strip() and not line.startswith("--")
    ]
    assert requirements
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][\w.+\-]*", requirement), requirement
    names = {r.split("==")[0].lower().replace("_", "-") for r in requirements}
    assert {"torch", "transformers", "fastapi", "uvicorn", "pydantic"} <= names


def test_the_requirements_match_what_the_tests_ran(dockerfile) -> None:
    from importlib.metadata import version

    pins = dict(
        line.split("==")
        for line in (CONTAINER / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for name in (
        "transformers",
        "fastapi",
        "uvicorn",
        "pydantic",
        "tokenizers",
        "httptools",
        "uvloop",
    ):
        assert pins[name] == version(name), name
    assert pins["torch"].split("+")[0] == version("torch").split("+")[0]


def test_build_tools_stay_in_the_build_stage(dockerfile) -> None:
    runs = " ".join(args_of(final_stage(dockerfile), "RUN"))
    assert "pip install" not in runs
    for tool in ("build-essential", "gcc", "git"):
        assert tool not in runs
    assert "rm -rf /var/lib/apt/lists" in runs
