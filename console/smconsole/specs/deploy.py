"""Deploy specs (configs/deploy-*.yaml): one async endpoint, its model, config and autoscaling.

Everything that can be checked without AWS is checked here: names, ARNs, S3 URIs, image
references, bounds. The service then only has to compare with what exists.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from smconsole.specs.common import Spec, check_s3_uri
from smconsole.specs.located import load_spec
from smconsole.specs.scaling import ScalingSpec

# SageMaker resource names: alphanumerics and single-or-more hyphens, 63 characters at most.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")
TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"
TIMESTAMP_SUFFIX_LEN = len("-20260101-000000")
MAX_BASE_NAME = 63 - TIMESTAMP_SUFFIX_LEN

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}\Z")
SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?\Z")
KMS_KEY = re.compile(r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+|alias/.+|[0-9a-f-]{36})\Z")
# [registry[:port]/]repository[:tag][@digest]
IMAGE_REF = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9.-]+(?::\d+)?)/)?"
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?\Z"
)
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+\Z")
VARIANT_NAME = SAGEMAKER_NAME
ENV_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}\Z")

NotificationTarget = Literal["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"]


def timestamp_suffix(now: datetime | None = None) -> str:
    """The seed's `-YYYYmmdd-HHMMSS` suffix (UTC) that makes model and config names unique."""
    return (now or datetime.now(UTC)).strftime(TIMESTAMP_FORMAT)


class ModelSpec(Spec):
    """The SageMaker model: image, weights, environment, role."""

    image: str
    data: str = Field(description="s3:// URI of model.tar.gz (unpacked to /opt/ml/model)")
    environment: dict[str, str] = Field(default_factory=dict)
    execution_role_arn: str

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not IMAGE_REF.match(value):
            raise ValueError(f"not an image reference (registry/repository:tag): {value!r}")
        return value

    @field_validator("data")
    @classmethod
    def _data(cls, value: str) -> str:
        check_s3_uri(value)
        if value.endswith("/"):
            raise ValueError("must name the model.tar.gz object, not a prefix")
        return value

    @field_validator("execution_role_arn")
    @classmethod
    def _role(cls, value: str) -> str:
        if not ROLE_ARN.match(value):
            raise ValueError(f"not an IAM role ARN (arn:aws:iam::<account>:role/<name>): {value!r}")
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 100:
            raise ValueError("at most 100 environment variables")
        for key, item in value.items():
            if not ENV_KEY.match(key):
                raise ValueError(f"invalid environment variable name {key!r}")
            if len(item) > 1024:
                raise ValueError(f"{key}: value longer than 1024 characters")
        return value


class VariantSpec(Spec):
    """The one production variant an async endpoint gets."""

    name: str = "AllTraffic"
    instance_type: str
    instance_count: int = Field(default=1, ge=1, le=100)
    inference_ami_version: str | None = None
    container_startup_health_check_timeout: int | None = Field(default=None, ge=60, le=3600)
    model_data_download_timeout: int | None = Field(default=None, ge=60, le=3600)
    volume_size_gb: int | None = Field(default=None, ge=1, le=512)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not VARIANT_NAME.match(value):
            raise ValueError(f"invalid variant name {value!r}")
        return value

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not INSTANCE_TYPE.match(value):
            raise ValueError(f"not a SageMaker instance type (ml.<family>.<size>): {value!r}")
        return value


class NotificationSpec(Spec):
    success_topic: str | None = None
    error_topic: str | None = None
    include_inference_response_in: list[NotificationTarget] = Field(default_factory=list)

    @field_validator("success_topic", "error_topic")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        if value is not None and not SNS_ARN.match(value):
            raise ValueError(f"not an SNS topic ARN: {value!r}")
        return value

    @model_validator(mode="after")
    def _targets_have_topics(self) -> NotificationSpec:
        wanted = {"SUCCESS_NOTIFICATION_TOPIC": self.success_topic,
                  "ERROR_NOTIFICATION_TOPIC": self.error_topic}
        for target in self.include_inference_response_in:
            if wanted[target] is None:
                raise ValueError(f"{target} listed but its topic is not set")
        return self


class AsyncSpec(Spec):
    """AsyncInferenceConfig: where results and failures go, and who hears about them."""

    output_path: str
    failure_path: str | None = None
    kms_key: str | None = None
    max_concurrent_invocations_per_instance: int | None = Field(default=None, ge=1, le=1000)
    notifications: NotificationSpec | None = None

    @field_validator("output_path", "failure_path")
    @classmethod
    def _s3(cls, value: str | None) -> str | None:
        return None if value is None else check_s3_uri(value)

    @field_validator("kms_key")
    @classmethod
    def _kms(cls, value: str | None) -> str | None:
        if value is not None and not KMS_KEY.match(value):
            raise ValueError(f"not a KMS key id, alias or ARN: {value!r}")
        return value


class DeploySpec(Spec):
    """One async endpoint. `name` is the endpoint's (stable); model and config get `-<timestamp>`."""

    name: str
    update: bool = False
    model: ModelSpec
    variant: VariantSpec
    async_inference: AsyncSpec = Field(alias="async")
    autoscaling: ScalingSpec | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    model_config = ConfigDict(populate_by_name=True)  # merged with Spec's

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SAGEMAKER_NAME.match(value):
            raise ValueError(
                f"invalid endpoint name {value!r}: letters, digits and hyphens, "
                "starting and ending with a letter or digit"
            )
        if len(value) > MAX_BASE_NAME:
            raise ValueError(
                f"at most {MAX_BASE_NAME} characters, so that '-YYYYmmdd-HHMMSS' fits in 63"
            )
        return value

    @model_validator(mode="after")
    def _autoscaling_bounds(self) -> DeploySpec:
        scaling = self.autoscaling
        if scaling is None:
            return self
        if scaling.min_capacity is None or scaling.max_capacity is None:
            raise ValueError("autoscaling needs min_capacity and max_capacity")
        if self.variant.instance_count > scaling.max_capacity:
            raise ValueError(
                f"variant.instance_count ({self.variant.instance_count}) exceeds "
                f"autoscaling.max_capacity ({scaling.max_capacity})"
            )
        return self

    def resource_names(self, now: datetime | None = None) -> tuple[str, str]:
        """(model name, endpoint config name) for a deploy started at `now`."""
        stamped = f"{self.name}-{timestamp_suffix(now)}"
        return stamped, stamped


def load_deploy_spec(path: str | Path) -> DeploySpec:
    """Read and validate a deploy spec; SpecError listing every problem when it is wrong."""
    return load_spec(path, DeploySpec)
