"""status_to_error: one HTTP answer → nothing (success) or exactly one error of the tree."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from tiergate.connectors.http_errors import error_message, retry_after, status_to_error
from tiergate.plugin.core.errors import Conflict, ConnectorError, NotFound, RateLimited, Unavailable

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("status", [200, 201, 204, 304])
def test_success_is_no_error(status):
    assert status_to_error(status, {}, b'{"error": "ignored"}') is None
    assert status_to_error(status, None, None) is None


def test_404_is_not_found_with_the_desks_words():
    body = json.dumps({"error": "RecordNotFound", "description": "Not found"}).encode()
    exc = status_to_error(404, {}, body, what="fetch ticket 7")
    assert type(exc) is NotFound
    assert str(exc) == "fetch ticket 7: 404 RecordNotFound: Not found"


def test_409_is_conflict():
    exc = status_to_error(409, {}, b'{"error": "UpdateConflict"}')
    assert type(exc) is Conflict and "409" in str(exc)


def test_422_with_a_validation_message_is_a_plain_connector_error():
    body = json.dumps({"error": "RecordInvalid", "description": "Record validation errors",
                       "details": {"group_id": [{"description": "group 9 does not exist"}]}})
    exc = status_to_error(422, {}, body, what="apply")
    assert type(exc) is ConnectorError
    assert str(exc).startswith("apply: 422 RecordInvalid: Record validation errors")
    assert "group 9 does not exist" in str(exc)


def test_422_saying_the_object_changed_is_conflict():
    body = json.dumps({"error": "Object has been changed meanwhile", "error_human": "The object is outdated"})
    exc = status_to_error(422, {}, body)
    assert type(exc) is Conflict
    assert "The object is outdated" in str(exc)      # error_human wins over error


def test_429_retry_after_in_seconds():
    exc = status_to_error(429, {"Retry-After": "17"}, b"")
    assert type(exc) is RateLimited and exc.retry_after == 17.0


def test_429_header_name_is_case_insensitive_and_fractions_are_kept():
    exc = status_to_error(429, {"retry-after": "2.5"}, None)
    assert isinstance(exc, RateLimited) and exc.retry_after == 2.5


def test_429_retry_after_as_http_date_counts_from_now():
    when = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    exc = status_to_error(429, {"Retry-After": when}, b"", now=NOW)
    assert isinstance(exc, RateLimited) and exc.retry_after == 90.0


def test_429_http_date_in_the_past_waits_zero():
    when = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert status_to_error(429, {"Retry-After": when}, b"", now=NOW).retry_after == 0.0


@pytest.mark.parametrize("header", [{}, {"Retry-After": "soon"}, {"Retry-After": ""}])
def test_429_without_a_readable_retry_after_uses_the_default(header):
    assert status_to_error(429, header, b"").retry_after == 1.0
    assert status_to_error(429, header, b"", default_retry_after=5.0).retry_after == 5.0


def test_negative_seconds_are_clamped():
    assert retry_after({"Retry-After": "-3"}) == 0.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable(status):
    exc = status_to_error(status, {}, b"<html>Bad gateway</html>", what="zendesk GET x")
    assert type(exc) is Unavailable
    assert str(exc) == f"zendesk GET x: {status} <html>Bad gateway</html>"


@pytest.mark.parametrize("status", [400, 401, 403, 405, 413])
def test_other_4xx_are_connector_errors_not_retryable_subclasses(status):
    exc = status_to_error(status, {}, b'{"error": "nope"}')
    assert type(exc) is ConnectorError and f"{status} nope" in str(exc)


def test_garbage_body_is_quoted_raw_and_bounded():
    garbage = b"\xff\xfe not json \x00" + b"x" * 1000
    exc = status_to_error(400, {}, garbage)
    assert type(exc) is ConnectorError
    assert "not json" in str(exc) and len(str(exc)) < 400


def test_error_message_shapes():
    assert error_message(b'{"error": {"title": "Forbidden", "message": "no access"}}') == "Forbidden: no access"
    assert error_message('{"message": "slow down"}') == "slow down"
    assert error_message(b"[1, 2]") == "[1, 2]"
    assert error_message(b'{"unexpected": true}') == '{"unexpected": true}'
    assert error_message(None) == "" and error_message(b"") == ""
