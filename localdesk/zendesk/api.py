"""Shared pieces of the local Zendesk's ``/api/v2`` views: the ``.json`` suffix, the JSON body,
id lists and pagination (offset and cursor)."""
from __future__ import annotations

import base64
import copy
from typing import Any
from urllib.parse import urlencode

from flask import request

from tiergate.localdesk.zendesk.errors import ApiError

API = "/api/v2"


class StripJson:
    """WSGI middleware: ``/api/v2/tickets/1.json`` and ``/api/v2/tickets/1`` are the same route."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.endswith(".json"):
            environ["PATH_INFO"] = path[:-5]
        return self.app(environ, start_response)


def json_body() -> dict:
    data = request.get_json(silent=True, force=True)
    if data is None and request.get_data():
        raise ApiError(400, "InvalidJSON", "The request body is not valid JSON")
    return data if isinstance(data, dict) else {}


def ids_arg() -> list[int]:
    raw = request.args.get("ids", "")
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ApiError(400, "InvalidInput", "ids: comma-separated integers expected") from None




CURSOR_PREFIX = "tiergate-local:"


def _cursor(offset: int) -> str:
    """An opaque cursor (base64, like Zendesk's) for the item at ``offset``."""
    return base64.b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode()


def _offset(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        text = base64.b64decode(raw.encode(), validate=True).decode()
        if text.startswith(CURSOR_PREFIX) and text[len(CURSOR_PREFIX):].isdigit():
            return int(text[len(CURSOR_PREFIX):])
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(400, "InvalidPaginationParameter", f"{name}: not a cursor this account issued")


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "InvalidPaginationParameter", f"{name}: an integer is required, got {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(400, "InvalidPaginationParameter", f"{name}: must be between {low} and {high}, got {value}")
    return value


def cursor_page(items: list) -> tuple[list, int, int, bool]:
    """The page ``page[size]`` / ``page[after]`` / ``page[before]`` ask for: (chunk, start, size,
    has_more); bad values answer 400 InvalidPaginationParameter."""
    size = _int_arg("page[size]", 100, 1, 100)
    after, before = _offset("page[after]"), _offset("page[before]")
    if after is not None:
        start, end = after + 1, after + 1 + size
    elif before is not None:
        start, end = max(0, before - size), before
    else:
        start, end = 0, size
    return items[start:end], start, size, end < len(items)


def _page_url(**params: Any) -> str:
    return f"{request.base_url}?{urlencode(params)}"


def paginate(items: list[dict], key: str) -> dict:
    """Cursor pagination (Support API shape: ``meta`` has_more/after_cursor/before_cursor and
    ``links`` next/prev, cursors opaque) when ``page[size]``/``page[after]``/``page[before]`` is
    asked for, offset (``next_page``/``previous_page``/``count``) otherwise; only the page's
    items are copied (call it under the state's lock)."""
    if any(k in request.args for k in ("page[size]", "page[after]", "page[before]")):
        chunk, start, size, more = cursor_page(items)
        first, last = (_cursor(start), _cursor(start + len(chunk) - 1)) if chunk else (None, None)
        return {key: copy.deepcopy(chunk), "meta": {"has_more": more, "after_cursor": last, "before_cursor": first},
                "links": {"prev": _page_url(**{"page[before]": first, "page[size]": size}) if first else None,
                          "next": _page_url(**{"page[after]": last, "page[size]": size}) if last else None}}
    per = _int_arg("per_page", 100, 1, 100)
    page = _int_arg("page", 1, 1, 10 ** 9)
    chunk = items[(page - 1) * per: page * per]
    more = page * per < len(items)
    return {key: copy.deepcopy(chunk), "next_page": _page_url(page=page + 1, per_page=per) if more else None,
            "previous_page": _page_url(page=page - 1, per_page=per) if page > 1 else None, "count": len(items)}


def webhook_page(items: list[dict], key: str) -> dict:
    """The webhooks API's cursor pagination (always on): ``meta.has_more``, and only when there
    is one, ``meta.after_cursor`` + ``links.next`` and ``meta.before_cursor`` + ``links.prev``."""
    chunk, start, size, more = cursor_page(items)
    meta: dict[str, Any] = {"has_more": more}
    links: dict[str, str] = {}
    if chunk and start > 0:
        meta["before_cursor"] = _cursor(start)
        links["prev"] = _page_url(**{"page[before]": meta["before_cursor"], "page[size]": size})
    if more:
        meta["after_cursor"] = _cursor(start + len(chunk) - 1)
        links["next"] = _page_url(**{"page[after]": meta["after_cursor"], "page[size]": size})
    out: dict[str, Any] = {"meta": meta}
    if links:
        out["links"] = links
    out[key] = copy.deepcopy(chunk)
    return out
