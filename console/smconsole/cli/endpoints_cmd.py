"""Subcommands (not yet built)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """Adds nothing yet."""
