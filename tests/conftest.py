"""Shared fixtures: each fixtures/ module belongs to one concern."""

import os

# Never touch a real account or the user's own state from a test run.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytest_plugins = ["fixtures.state", "fixtures.moto", "fixtures.local_stack"]
