"""Operator specs (configs/*.yaml): pydantic models with extra="forbid", errors located as file:line: field."""
