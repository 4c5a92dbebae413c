"""What one stored job or job definition may hold: AWS Batch's documented quotas that the spec
cannot say (openapi/batch.yaml carries the rest: array size 2-10,000, 20 dependencies, 50 tags).

"Resource: AWS Batch service quotas" (docs.aws.amazon.com/batch/latest/userguide/service_limits.html):
maximum job payload size (SubmitJob) 30 KiB, maximum job definition size (RegisterJobDefinition)
24 KiB. AWS answers an over-large SubmitJob with ClientException "Job size must be less than
30 KiB, got 47 KiB"; the job definition message is ours, in the same words.
"""
from __future__ import annotations

import json

from cancelgate.errors import ApiError

KIB = 1024
JOB_PAYLOAD = 30 * KIB
JOB_DEFINITION = 24 * KIB


def size_of(request: dict) -> int:
    """The bytes of a request as compact JSON (what a client sends, give or take whitespace)."""
    return len(json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode())


def check(request: dict, limit: int, what: str) -> None:
    size = size_of(request)
    if size >= limit:
        raise ApiError("ClientException", f"{what} size must be less than {limit // KIB} KiB, "
                                          f"got {-(-size // KIB)} KiB")
