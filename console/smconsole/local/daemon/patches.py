"""Start-up patches for moto's gaps that live inside its backend objects (moto 5.2.5)."""

from __future__ import annotations

import re

# SageMaker hosting instance families, current and past; moto's list stops years ago.
_INSTANCE_TYPE = re.compile(
    r"^ml\.[a-z][a-z0-9-]*\.(medium|large|[0-9]*xlarge|metal|[0-9]+xlarge)$"
)


def apply() -> None:
    from moto.sagemaker import models

    def validate_instance_type(self: object, instance_type: str) -> None:
        if not _INSTANCE_TYPE.match(instance_type or ""):
            raise models.ValidationError(
                message=f"Value '{instance_type}' at 'instanceType' failed to satisfy "
                "constraint: Member must be a SageMaker ML instance type such as "
                "ml.g5.xlarge")

    models.FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign]
