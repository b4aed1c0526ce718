"""The demo async endpoint `smconsole --local` opens on: all-MiniLM-L6-v2 from configs/."""

from __future__ import annotations

import sys
from typing import Any

from smconsole import errors, locations
from smconsole.local import modelpack
from smconsole.session import AwsSession

DEMO_SPEC = "deploy-demo.yaml"


def ensure_demo_endpoint(session: AwsSession, *, quiet: bool = False) -> str:
    """Deploy configs/deploy-demo.yaml unless its endpoint exists; the endpoint's name."""
    from smconsole.services.deploy import DeployService

    spec = demo_spec()
    sm = session.client("sagemaker")
    try:
        sm.describe_endpoint(EndpointName=spec.name)
        return spec.name
    except errors.NotFound:
        pass
    say = (lambda _m: None) if quiet else (lambda m: print(f"smconsole: {m}", file=sys.stderr))
    say(f"deploying the demo endpoint {spec.name} on the local stack (first start only)...")
    prepare_demo_assets(session, spec)
    result = DeployService(session).deploy(spec)
    if not result.ok:
        raise errors.SmconsoleError(f"the demo endpoint did not deploy: {result.summary()}")
    say(f"demo endpoint {spec.name} is InService")
    return spec.name


def demo_spec() -> Any:
    from smconsole.specs.deploy import load_deploy_spec

    return load_deploy_spec(locations.configs_dir() / DEMO_SPEC)


def uses_demo_model(spec: Any) -> bool:
    """A spec whose model data is the demo's archive (configs/deploy-demo.yaml or a copy)."""
    return bool(spec.model.data == demo_spec().model.data)


def prepare_demo_assets(session: AwsSession, spec: Any) -> None:
    """What the demo spec names, made on the local stack: its buckets, its SNS topics, and
    MiniLM packed as in the seed and uploaded to its model data path."""
    from smconsole.specs.common import split_s3_uri

    bucket, key = split_s3_uri(spec.model.data)
    _bucket(session, bucket)
    archive = modelpack.pack_cached(modelpack.minilm_dir(),
                                    locations.local_stack_dir() / "demo-model")
    s3 = session.client("s3")
    try:
        stored = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except s3.exceptions.ClientError:
        stored = None
    if stored != archive.stat().st_size:  # every upload is kept in the journal: once is enough
        s3.upload_file(str(archive), bucket, key)
    _outputs_and_topics(session, spec)


def _bucket(session: AwsSession, bucket: str) -> None:
    s3 = session.client("s3")
    try:
        s3.create_bucket(Bucket=bucket)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass


def _outputs_and_topics(session: AwsSession, spec: Any) -> None:
    """The buckets and SNS topics the spec names must exist before anything is sent there."""
    from smconsole.specs.common import split_s3_uri

    dump = spec.model_dump()
    found: list[str] = []
    _walk(dump, found)
    for value in found:
        if value.startswith("s3://"):
            _bucket(session, split_s3_uri(value)[0])
        elif value.startswith("arn:aws:sns:"):
            session.client("sns").create_topic(Name=value.rsplit(":", 1)[-1])


def _walk(node: Any, found: list[str]) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)
    elif isinstance(node, str):
        found.append(node)
