"""Answers are written by orjson where it can, and otherwise as Connexion writes them."""
from __future__ import annotations

import datetime
import json
import uuid

import pytest
from connexion.jsonifier import Jsonifier

from cancelgate.web.answer_json import AnswerJson


@pytest.mark.parametrize("data", [
    {"jobs": [{"jobId": "a", "status": "RUNNING", "createdAt": 1764000000000, "tags": {"k": "v"}}]},
    {"text": "Grüße, 東京 \u2028 \"quoted\" \\ back"}, "a plain string", [1, 2.5, True, None], {},
    {"big": 2 ** 70, "negative": -(2 ** 64)},            # beyond orjson's 64 bits
    {1: "an integer key", "two": 2},                   # a key that is no string
    {"when": datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.timezone.utc), "day": datetime.date(2026, 12, 1)},
    {"naive": datetime.datetime(2026, 12, 1, 10, 0)},   # Connexion writes a Z after it, orjson would not
    {"id": uuid.UUID(int=7)},
])
def test_an_answer_is_the_json_connexion_would_write(data):
    written = AnswerJson().dumps(data)
    assert json.loads(written) == json.loads(Jsonifier(json).dumps(data))
