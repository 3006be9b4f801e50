"""The one JSON and form reader the gateway and ingest share (shared/payloads.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import payloads
from shared.payloads import PayloadError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_any_json_value_reads_back(value: object) -> None:
    assert payloads.read_json(json.dumps(value).encode()) == value


READERS = (payloads.read_json, payloads.read_json_object, payloads.read_form, payloads.read_form_fields)


@given(st.binary(max_size=200), st.sampled_from(READERS))
def test_any_bytes_read_or_raise_payload_error(raw: bytes, read: object) -> None:
    try:
        read(raw)  # type: ignore[operator]
    except PayloadError as err:
        detail = err.detail
        assert detail


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"{", "payload is not JSON: JSONDecodeError"),
        (b"\xff", "payload is not JSON: UnicodeDecodeError"),
        (b"[" * 100_000, "payload is not JSON: RecursionError"),
        (b'{"a": NaN}', "payload holds NaN, which is not a JSON number"),
        (b'{"a": 1e999}', "payload number 1e999 is out of range"),
        (b"[1]", "payload is not a JSON object"),
        (b'{"a": ["\\u0000"]}', "payload contains a NUL character"),
        (b'{"\\u0000": 1}', "payload contains a NUL character"),
    ],
)
def test_json_object_refusals_say_why(raw: bytes, detail: str) -> None:
    with pytest.raises(PayloadError) as caught:
        payloads.read_json_object(raw)
    assert caught.value.detail == detail


def test_plain_json_allows_what_only_storage_refuses() -> None:
    # The gateway reads any JSON value; huge numbers and NUL are ingest's to store as they are.
    assert payloads.read_json(b"[1e999]") == [float("inf")]
    assert payloads.read_json(b'"\\u0000"') == "\x00"
    with pytest.raises(PayloadError):
        payloads.read_json(b"Infinity")


def test_form_keeps_order_blanks_and_repeats() -> None:
    assert payloads.read_form(b"b=2&a=&b=3") == [("b", "2"), ("a", ""), ("b", "3")]
    assert payloads.read_form_fields(b"b=2&a=&b=3") == {"b": "2", "a": ""}


@pytest.mark.parametrize("raw", [b"a=%ff", b"\xff=1"])
def test_form_must_be_utf8(raw: bytes) -> None:
    with pytest.raises(PayloadError, match="not a UTF-8 form body"):
        payloads.read_form(raw)


def test_form_field_limit_and_nul() -> None:
    with pytest.raises(PayloadError):
        payloads.read_form(b"&".join(b"f%d=1" % i for i in range(3)), max_fields=2)
    with pytest.raises(PayloadError, match="NUL"):
        payloads.read_form_fields(b"a=%00")
