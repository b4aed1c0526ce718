"""Errors the model side raises and the HTTP side maps onto statuses (kept free of torch)."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """The model folder cannot be served: missing, ambiguous, or of an unsupported task."""


class InputError(ValueError):
    """A request is well-formed but its content cannot be served; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TooLarge(InputError):
    """A request is within the body limit but would cost more than a limit allows (413)."""
