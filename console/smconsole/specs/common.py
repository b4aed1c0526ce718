"""What every operator spec shares: the base pydantic model and S3 URI parsing.

Kept free of the other spec modules so that batch, deploy and scaling can all import it
without importing each other.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

# s3://bucket[/key]: the structure first, then the bucket's name on its own, so that a
# wrong bucket is named as such rather than as "not an s3:// URI".
S3_URI = re.compile(r"^s3://(?P<bucket>[^/]+)(?:/(?P<key>.*))?\Z")
# Bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric.
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")


class Spec(BaseModel):
    """Base of every spec model: unknown fields are errors, and a loaded spec does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'key/part') from 's3://bucket/key/part'; ValueError naming what is wrong."""
    match = S3_URI.match(uri)
    if not match:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket = match.group("bucket")
    if not BUCKET.match(bucket) or ".." in bucket or IP_ADDRESS.fullmatch(bucket):
        raise ValueError(
            f"invalid bucket name {bucket!r}: 3-63 lowercase letters, digits, dots, hyphens"
        )
    return bucket, match.group("key") or ""


def check_s3_uri(value: str) -> str:
    """`value` unchanged when it is a well-formed s3:// URI (see split_s3_uri)."""
    split_s3_uri(value)
    return value
