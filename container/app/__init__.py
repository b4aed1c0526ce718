"""The inference server SageMaker runs: FastAPI over a dynamically batched model."""
