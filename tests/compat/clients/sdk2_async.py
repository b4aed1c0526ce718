"""SageMaker Python SDK v2, unmodified, against the local stack: run in the sdk2 venv.

argv[1]: JSON {"bucket", "model_data", "role", "name", "image"}; the endpoint comes from
AWS_ENDPOINT_URL. Prints one JSON line of what it saw. The two lines the SDK itself needs:
`Session(default_bucket=...)` (it asks STS for the account at a hard-coded URL otherwise) and
`predictor_cls` (the base Model returns no predictor without one).
"""

import json
import os
import sys
import time

import boto3
import sagemaker
from sagemaker.async_inference import AsyncInferenceConfig, WaiterConfig
from sagemaker.deserializers import JSONDeserializer
from sagemaker.exceptions import AsyncInferenceModelError
from sagemaker.model import Model
from sagemaker.predictor import Predictor
from sagemaker.predictor_async import AsyncPredictor
from sagemaker.serializers import JSONSerializer

args = json.loads(sys.argv[1])
session = sagemaker.Session(boto_session=boto3.Session(region_name="us-east-1"),
                            default_bucket=args["bucket"])
model = Model(image_uri=args["image"], model_data=args["model_data"], role=args["role"],
              env={"MODEL_DIR": "/opt/ml/model/model"}, predictor_cls=Predictor,
              sagemaker_session=session, name=args["name"] + "-model")
started = time.monotonic()
# wait=False, then the SDK's own waiter polled each second (deploy's polls every 30 s).
predictor = model.deploy(
    wait=False, initial_instance_count=1, instance_type="ml.g5.xlarge", endpoint_name=args["name"],
    serializer=JSONSerializer(), deserializer=JSONDeserializer(),
    async_inference_config=AsyncInferenceConfig(
        output_path=f"s3://{args['bucket']}/{args['name']}/output",
        failure_path=f"s3://{args['bucket']}/{args['name']}/failure"),
)
session.wait_for_endpoint(args["name"], poll=1)
seen = {"predictor": type(predictor).__name__, "deploy_s": round(time.monotonic() - started, 1),
        "is_async": isinstance(predictor, AsyncPredictor)}
waiter = WaiterConfig(max_attempts=120, delay=1)
response = predictor.predict_async(data={"inputs": "a fine day"})
seen["output_path"] = response.output_path
seen["result"] = response.get_result(waiter)
seen["result_s"] = round(time.monotonic() - started, 1)
try:
    predictor.predict_async(data={"not inputs": 1}).get_result(waiter)
    seen["error"] = None
except AsyncInferenceModelError as exc:
    seen["error"] = str(exc)
predictor.delete_endpoint()
seen["deleted"] = True
seen["total_s"] = round(time.monotonic() - started, 1)
print(json.dumps(seen, default=str), flush=True)
# get_result leaves its output-path waiter thread polling until its attempts run out when the
# answer was a failure: do not wait for it.
os._exit(0)
