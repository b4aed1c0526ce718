"""smconsole: a keyboard-driven console for SageMaker asynchronous inference endpoints."""

__version__ = "0.1.0"
