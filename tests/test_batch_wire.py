"""Bad input on /v1: each gets the AWS wire error botocore models, and no state changes."""
from __future__ import annotations

import json

import pytest

SUBMITTED = "00000000-0000-4000-8000-000000000001"
GOOD = json.dumps({"jobId": SUBMITTED, "reason": "r"}).encode()


def snapshot(http) -> list:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 13)]
    return http.post("/v1/describejobs", json={"jobs": ids}).json()["jobs"]


def assert_aws_error(response, status: int, code: str = "ClientException") -> dict:
    assert response.status_code == status, response.text
    assert response.headers["x-amzn-ErrorType"] == code
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-amzn-RequestId")
    body = response.json()
    assert body["__type"] == code
    assert body["message"] and "\n" not in body["message"]
    return body


BAD_BODIES = {
    "malformed JSON": (b'{"jobId": ', {"content-type": "application/json"}, 400),
    "wrong type": (json.dumps({"jobId": 7, "reason": "r"}).encode(), {"content-type": "application/json"}, 400),
    "unknown field": (json.dumps({"jobId": SUBMITTED, "reason": "r", "extra": 1}).encode(),
                      {"content-type": "application/json"}, 400),
    "array body": (b"[]", {"content-type": "application/json"}, 400),
    "empty body": (b"", {"content-type": "application/json"}, 400),
    "not UTF-8": (b'{"jobId": "\xff\xfe", "reason": "r"}', {"content-type": "application/json"}, 400),
    "NaN": (b'{"jobId": NaN, "reason": "r"}', {"content-type": "application/json"}, 400),
    "deep nesting": (b'{"jobId": ' + b"[" * 100000 + b"]" * 100000 + b', "reason": "r"}',
                     {"content-type": "application/json"}, 400),
    "huge integer": (b'{"jobId": ' + b"9" * 5000 + b', "reason": "r"}', {"content-type": "application/json"}, 400),
    "huge float": (b'{"jobId": 1e999, "reason": "r"}', {"content-type": "application/json"}, 400),
    "NUL in reason": (json.dumps({"jobId": SUBMITTED, "reason": "a\u0000b"}).encode(),
                      {"content-type": "application/json"}, 400),
    "wrong content type": (GOOD, {"content-type": "text/plain"}, 415),
    "form content type": (GOOD, {"content-type": "application/x-www-form-urlencoded"}, 415),
    "over 1 MiB": (json.dumps({"jobId": SUBMITTED, "reason": "r" * (1024 * 1024)}).encode(),
                   {"content-type": "application/json"}, 413),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_bad_body_is_client_exception_and_changes_nothing(http, name):
    before = snapshot(http)
    content, headers, status = BAD_BODIES[name]
    assert_aws_error(http.post("/v1/canceljob", content=content, headers=headers), status)
    assert snapshot(http) == before


@pytest.mark.parametrize("name", ["malformed JSON", "wrong type", "unknown field", "not UTF-8",
                                  "wrong content type", "over 1 MiB"])
def test_boto3_raises_client_exception_for_bad_bodies(batch, name):
    """boto3 itself never sends these; a hook swaps the body so botocore parses our error."""
    content, headers, status = BAD_BODIES[name]

    def swap(request, **_):
        request.data = content
        for name, value in headers.items():
            del request.headers[name]
            request.headers[name] = value
    batch.meta.events.register("before-sign.batch.CancelJob", swap)
    with pytest.raises(batch.exceptions.ClientException) as raised:
        batch.cancel_job(jobId=SUBMITTED, reason="r")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["Error"]["Message"]


def test_missing_content_type_is_read_as_json(http):
    response = http.post("/v1/canceljob", content=GOOD, headers={"content-type": ""})
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert http.post("/v1/describejobs", json={"jobs": [SUBMITTED]}).json()["jobs"][0]["status"] == "FAILED"


def test_content_type_with_charset_is_accepted(http):
    response = http.post("/v1/canceljob", content=GOOD,
                         headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 200, response.text


def test_unknown_path_is_404_client_exception(http):
    before = snapshot(http)
    assert_aws_error(http.post("/v1/cancelalljobs", json={}), 404)
    assert snapshot(http) == before


def test_wrong_method_is_405_with_allow(http):
    response = http.get("/v1/canceljob")
    assert_aws_error(response, 405)
    assert response.headers["allow"] == "POST"


def test_error_messages_name_the_field(http):
    body = assert_aws_error(http.post("/v1/canceljob", json={"jobId": SUBMITTED, "reason": 5}), 400)
    assert "reason" in body["message"]
    body = assert_aws_error(http.post("/v1/canceljob", json={"reason": "r"}), 400)
    assert "jobId" in body["message"]


def test_every_answer_carries_a_request_id(http):
    ok = http.post("/v1/describejobs", json={"jobs": []})
    bad = http.post("/v1/describejobs", json={"jobs": "x"})
    ids = {ok.headers["x-amzn-RequestId"], bad.headers["x-amzn-RequestId"]}
    assert len(ids) == 2


def test_large_but_allowed_body_works(http):
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(100)]
    response = http.post("/v1/describejobs", json={"jobs": ids})
    assert response.status_code == 200
