"""SageMaker Python SDK v3 (`sagemaker.core.resources`), unmodified: run in the sdk3 venv.

argv[1]: JSON {"bucket", "model_data", "role", "name", "image", "input"}; the endpoint comes
from AWS_ENDPOINT_URL. Its resources are pydantic models: an answer that breaks botocore's
output shape (`"VpcConfig": {}`) raises a ValidationError here. Prints one JSON line.
"""

import json
import sys

from sagemaker.core.resources import Endpoint, EndpointConfig, Model
from sagemaker.core.shapes import (
    AsyncInferenceConfig,
    AsyncInferenceOutputConfig,
    ContainerDefinition,
    ProductionVariant,
)

args = json.loads(sys.argv[1])
name = args["name"]
model = Model.create(
    model_name=f"{name}-model", execution_role_arn=args["role"],
    primary_container=ContainerDefinition(
        image=args["image"], model_data_url=args["model_data"],
        environment={"MODEL_DIR": "/opt/ml/model/model"}),
)
config = EndpointConfig.create(
    endpoint_config_name=f"{name}-config",
    production_variants=[ProductionVariant(
        variant_name="AllTraffic", model_name=model.model_name,
        instance_type="ml.g5.xlarge", initial_instance_count=1)],
    async_inference_config=AsyncInferenceConfig(output_config=AsyncInferenceOutputConfig(
        s3_output_path=f"s3://{args['bucket']}/{name}/output",
        s3_failure_path=f"s3://{args['bucket']}/{name}/failure")),
)
endpoint = Endpoint.create(endpoint_name=name, endpoint_config_name=config.endpoint_config_name)
endpoint.wait_for_status("InService", poll=1, timeout=240)
seen = {"status": Endpoint.get(endpoint_name=name).endpoint_status}
answer = endpoint.invoke_async(input_location=args["input"], content_type="application/json")
seen["inference_id"] = answer.inference_id
seen["output_location"] = answer.output_location
seen["async_output"] = str(
    Endpoint.get(endpoint_name=name).async_inference_config.output_config.s3_output_path)
endpoint.delete()
endpoint.wait_for_delete(poll=1, timeout=120)
config.delete()
model.delete()
seen["deleted"] = True
print(json.dumps(seen, default=str))
