"""Operator specs (configs/*.yaml): pydantic models, located errors."""
