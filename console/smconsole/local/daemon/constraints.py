"""AWS's input rules that moto skips, checked before any value becomes a folder or an S3 key.

Patterns and lengths are botocore's service models (sagemaker 2017-07-24, sagemaker-runtime
2017-05-13); the wording is AWS's `1 validation error detected: ...`. Moto accepts any name,
`../../tmp/evil` included, and the local stack makes folders from model and endpoint names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Java's \p{Print} is printable ASCII; \S is any non-space.
_PRINTABLE = re.compile(r"\A[\x21-\x7e][\x20-\x7e]*\Z")


@dataclass(frozen=True)
class Rule:
    field: str  # the member name as AWS's message spells it (lower camel case)
    pattern: str  # as AWS prints it
    regex: re.Pattern[str]
    max_length: int
    min_length: int = 1


NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
MODEL_NAME = Rule("modelName", r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$",
                  re.compile(r"\A[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?\Z"), 63)
ENDPOINT_CONFIG_NAME = Rule("endpointConfigName", NAME,
                            re.compile(r"\A[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z"), 63)
ENDPOINT_NAME = Rule("endpointName", NAME,
                     re.compile(r"\A[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z"), 63)
# sagemaker-runtime states the endpoint name without the {0,62} (its length rule says 63).
RUNTIME_ENDPOINT_NAME = Rule("endpointName", r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*",
                             re.compile(r"\A[a-zA-Z0-9](-*[a-zA-Z0-9])*\Z"), 63)
VARIANT_NAME = Rule("variantName", NAME,
                    re.compile(r"\A[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z"), 63)
INFERENCE_ID = Rule("inferenceId", r"\A\S[\p{Print}]*\z", _PRINTABLE, 64)
S3_OUTPUT_PATH_EXTENSION = Rule(
    "s3OutputPathExtension", r"^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$",
    re.compile(r"\A(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+\Z"), 512)
FILENAME = Rule("filename", r"^(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9-_\.]*$",
                re.compile(r"\A(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z"), 32)
# ContentType, Accept, CustomAttributes: at most 1024 ASCII characters (\p{ASCII}*).
_ASCII = re.compile(r"\A[\x00-\x7f]*\Z")
CONTENT_TYPE = Rule("contentType", r"\p{ASCII}*", _ASCII, 1024, 0)
ACCEPT = Rule("accept", r"\p{ASCII}*", _ASCII, 1024, 0)
CUSTOM_ATTRIBUTES = Rule("customAttributes", r"\p{ASCII}*", _ASCII, 1024, 0)


def violation(rule: Rule, value: Any, where: str | None = None) -> str | None:
    """AWS's sentence for the first rule value breaks, or None when it is fine."""
    field = where or rule.field
    if not isinstance(value, str):
        return f"Value at '{field}' failed to satisfy constraint: Member must be a string"
    if len(value) > rule.max_length:
        return (f"Value '{value[:200]}' at '{field}' failed to satisfy constraint: Member must "
                f"have length less than or equal to {rule.max_length}")
    if len(value) < rule.min_length:
        return (f"Value '{value}' at '{field}' failed to satisfy constraint: Member must have "
                f"length greater than or equal to {rule.min_length}")
    if not rule.regex.match(value):
        return (f"Value '{value[:200]}' at '{field}' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {rule.pattern}")
    return None


def message(problems: list[str]) -> str:
    count = len(problems)
    return (f"{count} validation error{'s' if count > 1 else ''} detected: "
            + "; ".join(problems))


def create_call_problems(action: str, params: dict[str, Any]) -> list[str]:
    """What AWS would refuse in a CreateModel / CreateEndpointConfig / CreateEndpoint body."""
    found: list[str | None] = []
    if action == "CreateModel":
        found.append(violation(MODEL_NAME, params.get("ModelName")))
    elif action == "CreateEndpointConfig":
        found.append(violation(ENDPOINT_CONFIG_NAME, params.get("EndpointConfigName")))
        variants = params.get("ProductionVariants")
        for n, variant in enumerate(variants if isinstance(variants, list) else [], 1):
            if not isinstance(variant, dict):
                continue
            found.append(violation(VARIANT_NAME, variant.get("VariantName"),
                                   f"productionVariants.{n}.member.variantName"))
            if "ModelName" in variant:
                found.append(violation(MODEL_NAME, variant.get("ModelName"),
                                       f"productionVariants.{n}.member.modelName"))
    elif action == "CreateEndpoint":
        found.append(violation(ENDPOINT_NAME, params.get("EndpointName")))
        found.append(violation(ENDPOINT_CONFIG_NAME, params.get("EndpointConfigName")))
    return [p for p in found if p]


def async_header_problems(name: str, headers: dict[str, str]) -> list[str]:
    """InvokeEndpointAsync's endpoint name (from the path), InferenceId, S3OutputPathExtension,
    Filename, ContentType, Accept and CustomAttributes headers."""
    return _header_problems(name, headers, (
        ("x-amzn-sagemaker-inference-id", INFERENCE_ID),
        ("x-amzn-sagemaker-s3outputpathextension", S3_OUTPUT_PATH_EXTENSION),
        ("x-amzn-sagemaker-filename", FILENAME),
        ("x-amzn-sagemaker-content-type", CONTENT_TYPE),
        ("x-amzn-sagemaker-accept", ACCEPT),
        ("x-amzn-sagemaker-custom-attributes", CUSTOM_ATTRIBUTES)))


def invoke_header_problems(name: str, headers: dict[str, str]) -> list[str]:
    """InvokeEndpoint's endpoint name, InferenceId, ContentType, Accept and CustomAttributes."""
    return _header_problems(name, headers, (
        ("x-amzn-sagemaker-inference-id", INFERENCE_ID),
        ("content-type", CONTENT_TYPE),
        ("accept", ACCEPT),
        ("x-amzn-sagemaker-custom-attributes", CUSTOM_ATTRIBUTES)))


def _header_problems(name: str, headers: dict[str, str],
                     rules: tuple[tuple[str, Rule], ...]) -> list[str]:
    found = [problem] if (problem := violation(RUNTIME_ENDPOINT_NAME, name)) else []
    for header, rule in rules:
        if header in headers:
            problem = violation(rule, headers[header])
            if problem:
                found.append(problem)
    return found
