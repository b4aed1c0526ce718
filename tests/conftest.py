"""Shared fixtures: each fixtures/ module belongs to one concern."""

import os

import pytest

# Never touch a real account or the user's own state from a test run.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytest_plugins = ["fixtures.state", "fixtures.moto", "fixtures.local_stack"]

# The layers that start servers or real clients are slow as a whole: `pytest -m "not slow"`
# is the inner loop (unit/ and tui/), under two minutes.
SLOW_LAYERS = ("local_stack", "container", "compat")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        parts = item.path.parts
        if "tests" in parts and parts[parts.index("tests") + 1] in SLOW_LAYERS:
            item.add_marker(pytest.mark.slow)
