"""The plain-shape reading of Zendesk event payloads gives what the marshmallow schema gives.

``zendesk_webhook._plain_event`` reads the common, valid event shape without marshmallow and
hands everything else to the schema: wherever it answers, its answer must equal the schema's
(values and key order of the declared fields), and wherever the schema refuses, it must not
answer."""
from __future__ import annotations

import copy
import itertools

import pytest

from tiergate.connectors import zendesk_webhook as zw
from tiergate.connectors.payloads import load
from tiergate.plugin.core.errors import PayloadError

BASE = {
    "type": "zen:event-type:ticket.comment_added", "account_id": 1, "id": "ev-1",
    "time": "2026-01-02T03:04:05Z", "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:1042",
    "detail": {"id": "1042", "status": "OPEN", "tags": ["vip"], "via": {"channel": "email"}},
    "event": {"comment": {"body": "hello"}}, "extra": [1, {"a": None}],
}
MISSING = object()

VARIANTS = {
    "type": ["zen:event-type:ticket.created", "zen:event-type:user.created", 3, None, ""],
    "id": ["x", " ", "", 5, None],
    "subject": ["zen:ticket:1042", "zen:ticket:1043", "zen:ticket:", "zen:ticket:١٠٤٢", "ticket 1042", 1042],
    "time": ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05+02:00", "yesterday", "", 12, None],
    "account_id": [MISSING, None, 7, -3, True, "7", 1.5],
    "zendesk_event_version": [MISSING, None, "v", 3],
    "event": [MISSING, None, {}, {"k": [1]}, [], "x"],
    "detail.id": ["1042", 1042, " 1042 ", "1042.0", "١٠٤٢", 0, -1042, True, None, MISSING],
    "detail.tags": [MISSING, None, [], ["a", "b"], ["a", 1], "vip", [None]],
    "detail": [MISSING, None, [], "x"],
}


def _variant(field: str, value):
    payload = copy.deepcopy(BASE)
    target, key = (payload["detail"], field.split(".")[1]) if field.startswith("detail.") else (payload, field)
    if field.startswith("detail.") and not isinstance(target, dict):
        return payload
    if value is MISSING:
        target.pop(key, None)
    else:
        target[key] = value
    return payload


CASES = [(f, v) for f, values in VARIANTS.items() for v in values]


@pytest.mark.parametrize("field,value", CASES, ids=[f"{f}={v!r}"[:40] for f, v in CASES])
def test_plain_reading_agrees_with_the_schema(field, value):
    payload = _variant(field, value)
    try:
        expected = load(zw._EVENT_SCHEMA, copy.deepcopy(payload))
    except PayloadError:
        expected = None
    got = zw._plain_event(copy.deepcopy(payload))
    if expected is None:
        assert got is None
        return
    if got is None:  # left to marshmallow: allowed, it is only a short cut
        return
    assert got == expected
    declared = list(zw.TicketEventSchema().fields)
    assert [k for k in got if k in declared] == [k for k in expected if k in declared]
    assert [k for k in got["detail"] if k in ("id", "tags")] == [k for k in expected["detail"] if k in ("id", "tags")]


def test_the_common_delivery_takes_the_short_cut():
    assert zw._plain_event(copy.deepcopy(BASE)) == load(zw._EVENT_SCHEMA, copy.deepcopy(BASE))


@pytest.mark.parametrize("account,tags", list(itertools.product([1, None, MISSING], [["a"], None, MISSING])))
def test_optional_fields_combinations(account, tags):
    payload = _variant("account_id", account)
    if tags is MISSING:
        payload["detail"].pop("tags")
    else:
        payload["detail"]["tags"] = tags
    assert zw._plain_event(copy.deepcopy(payload)) == load(zw._EVENT_SCHEMA, copy.deepcopy(payload))
