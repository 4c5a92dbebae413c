"""Request bodies read by orjson where it can, by the standard parser where it cannot: the same
JSON is the same value either way, and what is refused is refused with the same words."""
from __future__ import annotations

import json

import pytest
from connexion.exceptions import BadRequestProblem
from hypothesis import given, settings
from hypothesis import strategies as st

from cancelgate.web.validation import ABSENT, ORJSON_BRACKETS, parse_body

scalars = (st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)


def standard(raw: bytes):
    return json.loads(raw.decode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(values, st.booleans())
def test_any_json_value_reads_as_the_standard_parser_reads_it(value, ascii_only):
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    parsed = parse_body(raw)
    assert parsed == standard(raw)
    assert json.dumps(parsed, sort_keys=True) == json.dumps(standard(raw), sort_keys=True)  # -0.0, 1.0 vs 1


@pytest.mark.parametrize("depth", [ORJSON_BRACKETS - 1, ORJSON_BRACKETS, 900])
def test_nesting_on_either_side_of_the_bracket_bound_reads_the_same(depth):
    raw = b'{"a": ' + b"[" * depth + b"1" + b"]" * depth + b"}"
    assert parse_body(raw) == standard(raw)


@pytest.mark.parametrize("raw, words", [
    (b"\xff{}", "request body is not valid UTF-8"),
    (b'{"a": NaN}', "request body is not valid JSON: NaN is not JSON"),
    (b'{"a": -Infinity}', "request body is not valid JSON: -Infinity is not JSON"),
    (b"\xef\xbb\xbf{}", "request body is not valid JSON: Unexpected UTF-8 BOM"),
    (b'{"a": "\\ud800"}', "request body holds a lone surrogate escape"),
    (b'{"a": 1,}', "request body is not valid JSON: Expecting property name"),
    (b"[" * 100_000 + b"]" * 100_000, "request body is nested too deeply"),
])
def test_what_is_refused_is_refused_in_the_standard_parsers_words(raw, words):
    with pytest.raises(BadRequestProblem) as refused:
        parse_body(raw)
    assert refused.value.detail.startswith(words)


def test_an_empty_body_is_absent_and_a_big_integer_is_kept_whole():
    assert parse_body(b"") is ABSENT
    assert parse_body(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
