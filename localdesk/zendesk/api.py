"""Shared pieces of the local Zendesk's ``/api/v2`` views: the ``.json`` suffix, the JSON body,
id lists and pagination (offset and cursor)."""
from __future__ import annotations

import copy
from typing import Any

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




def paginate(items: list[dict], key: str) -> dict:
    """Cursor pagination when ``page[size]``/``page[after]`` is asked for, offset otherwise; only
    the page's items are copied (call it under the state's lock)."""
    base = request.base_url
    if "page[size]" in request.args or "page[after]" in request.args:
        size = min(int(request.args.get("page[size]", 100)), 100)
        start = int(request.args.get("page[after]") or 0)
        chunk, more = items[start:start + size], start + size < len(items)
        after = str(start + size) if more else None
        return {key: copy.deepcopy(chunk), "meta": {"has_more": more, "after_cursor": after, "before_cursor": str(start) if start else None},
                "links": {"next": f"{base}?page[size]={size}&page[after]={after}" if more else None, "prev": None}}
    per = min(int(request.args.get("per_page", 100)), 100)
    page = max(int(request.args.get("page", 1)), 1)
    chunk = items[(page - 1) * per: page * per]
    more = page * per < len(items)
    return {key: copy.deepcopy(chunk), "next_page": f"{base}?page={page + 1}&per_page={per}" if more else None,
            "previous_page": f"{base}?page={page - 1}&per_page={per}" if page > 1 else None, "count": len(items)}
