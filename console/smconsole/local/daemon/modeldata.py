"""A model's artifacts from (local) S3, unpacked the way SageMaker lays out /opt/ml/model."""

from __future__ import annotations

import shutil
import tarfile
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from smconsole.local.daemon.internal import InternalAws
from smconsole.specs.common import split_s3_uri

SAGEMAKER_MODEL_DIR = "/opt/ml/model"

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def primary_container(model: Any) -> dict[str, Any]:
    """The container definition SageMaker would run for this moto Model object."""
    if model.containers:
        return dict(model.containers[0])
    return dict(model.primary_container or {})


def artifact_source(container: dict[str, Any]) -> tuple[str, str, str] | None:
    """(s3 uri, S3Object|S3Prefix, Gzip|None) of a container definition, or None."""
    source = (container.get("ModelDataSource") or {}).get("S3DataSource")
    if source:
        return (
            source["S3Uri"], source.get("S3DataType", "S3Object"),
            source.get("CompressionType", "None"),
        )
    url = container.get("ModelDataUrl")
    if url:
        return url, "S3Object", "Gzip"
    return None


def describe_source(container: dict[str, Any]) -> str:
    """' from s3://b/k (S3Object, Gzip)' for a FailureReason; '' when there is none."""
    source = artifact_source(container)
    if source is None:
        return ""
    uri, kind, compression = source
    return f" from {uri} ({kind})" if compression == "None" else \
        f" from {uri} ({kind}, {compression})"


def prepare(aws: InternalAws, region: str, container: dict[str, Any], root: Path) -> Path:
    """Fetch and unpack the artifacts once into root/opt_ml_model; return that folder.

    The folder is shared by every instance of the model: /opt/ml/model is read-only on
    SageMaker too. A marker records which object (and ETag) it holds.
    """
    target = root / "opt_ml_model"
    source = artifact_source(container)
    with _lock_for(root):
        if source is None:
            target.mkdir(parents=True, exist_ok=True)
            return target
        uri, data_type, compression = source
        s3 = aws.client("s3", region)
        bucket, key = split_s3_uri(uri)
        if data_type == "S3Object":
            head = s3.head_object(Bucket=bucket, Key=key)
            stamp = f"{uri} {head.get('ETag', '')}"
        else:
            stamp = f"{uri} prefix"
        marker = root / "source.txt"
        if target.is_dir() and marker.is_file() and marker.read_text() == stamp:
            return target
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if data_type == "S3Object":
            archive = root / "model.tar.gz"
            s3.download_file(bucket, key, str(archive))
            if compression == "Gzip" or key.endswith((".tar.gz", ".tgz")):
                with tarfile.open(archive, "r:*") as tar:
                    tar.extractall(target, filter="data")
                archive.unlink()
            else:
                name = PurePosixPath(key).name
                archive.rename(target / (name if name not in ("", ".", "..") else "model"))
        else:
            prefix = key if key.endswith("/") or not key else key + "/"
            files = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    rel = item["Key"][len(prefix):]
                    if not rel or rel.endswith("/"):
                        continue
                    files.append((item["Key"], inside(target, rel,
                                                      f"the object key {item['Key']!r}")))
            for object_key, dest in files:  # every key checked before the first byte lands
                dest.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, object_key, str(dest))
        marker.write_text(stamp)
        return target


def inside(folder: Path, relative: str, what: str) -> Path:
    """folder/relative, refused when `..`, `//` or an absolute part would leave folder."""
    base = folder.resolve()
    dest = (base / relative).resolve()
    if dest == base or not dest.is_relative_to(base):
        raise ValueError(f"{what} leads outside the model folder; refused")
    return dest


def container_environment(container: dict[str, Any], model_dir: Path) -> dict[str, str]:
    """The model's Environment with /opt/ml/model paths pointing at the local folder."""
    env: dict[str, str] = {}
    for name, value in (container.get("Environment") or {}).items():
        value = str(value)
        if value == SAGEMAKER_MODEL_DIR or value.startswith(SAGEMAKER_MODEL_DIR + "/"):
            value = str(model_dir) + value[len(SAGEMAKER_MODEL_DIR):]
        env[name] = value
    env.setdefault("MODEL_DIR", str(model_dir))
    return env
