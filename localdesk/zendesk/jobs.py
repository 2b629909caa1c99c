"""Bulk updates in the local Zendesk: ``update_many`` and its job statuses."""
from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING

from flask import Flask, jsonify

from tiergate.localdesk.zendesk.api import API, ids_arg, json_body
from tiergate.localdesk.zendesk.errors import ApiError, not_found
from tiergate.localdesk.zendesk.records import iso, utcnow

if TYPE_CHECKING:
    from tiergate.localdesk.zendesk.store import State


def register(app: Flask, state: State) -> None:
    """``PUT /tickets/update_many`` and ``GET /job_statuses/{id}``."""
    api = API

    @app.put(f"{api}/tickets/update_many")
    def tickets_update_many():
        body = json_body()
        if "tickets" in body:
            items = body["tickets"]
            if not isinstance(items, list) or not all(isinstance(t, dict) and "id" in t for t in items):
                raise ApiError(400, "InvalidInput", "tickets: list of objects with id required")
        else:
            items = [{**(body.get("ticket") or {}), "id": i} for i in ids_arg()]
        if len(items) > 100:
            raise ApiError(400, "TooManyValues", f"Parameter tickets cannot specify more than 100 values ({len(items)} given)",
                           extra={"max_count": 100})
        results = []
        for item in items:
            item = dict(item)
            tid = item.pop("id")
            try:
                state.update_ticket(int(tid), item, check_conflict=False)
                results.append({"id": tid, "action": "update", "success": True, "status": "Updated"})
            except ApiError as exc:
                results.append({"id": tid, "action": "update", "success": False, "status": "Failed",
                                "error": exc.error, "details": exc.description})
        job_id = uuid.uuid4().hex
        job = {"id": job_id, "url": state._url(f"job_statuses/{job_id}"), "total": len(items),
               "progress": len(items), "status": "completed", "message": f"Completed at {iso(utcnow())}",
               "results": results}
        with state.lock:
            state.job_statuses[job_id] = job
        queued = {**job, "status": "queued", "progress": None, "message": None, "results": None}
        return jsonify({"job_status": queued})

    @app.get(f"{api}/job_statuses/<job_id>")
    def job_status(job_id: str):
        with state.lock:
            if job_id not in state.job_statuses:
                raise not_found("job_status")
            return jsonify({"job_status": copy.deepcopy(state.job_statuses[job_id])})
