"""Recorded Zendesk responses for contract tests: reading betamax cassettes, a replay server that
answers recorded requests over real HTTP, and a JSON shape comparison.

- ``load(name) -> Cassette``: one file of ``tests/cassettes/zendesk`` (bodies decoded, gzip too).
- ``ReplayServer(*cassettes)``: a threaded HTTP server on 127.0.0.1 answering each request with the
  first unused recorded interaction of the same method, path (``.json`` optional) and query
  (order-insensitive); once all matching ones are used, the last repeats (job-status polling).
  Recorded Zendesk URLs in bodies point back at the server. Unmatched requests answer 599 and
  are listed in ``.misses``; ``.served`` lists the indexes answered.
- ``shape(value)`` and ``shape_diff(recorded, local)``: JSON kinds (object keys, list items,
  ``integer``/``number``/``string``/``boolean``/``null``, whole-second ``datetime`` or
  ``datetime-fraction``), compared recursively, values ignored.
"""
from __future__ import annotations

import base64
import gzip
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

CASSETTES = Path(__file__).parent / "cassettes" / "zendesk"
RECORDED_HOST = re.compile(r"https://[a-z0-9-]+\.zendesk(?:-staging)?\.com(?::443)?")


@dataclass
class Interaction:
    method: str
    path: str
    query: dict[str, list[str]]
    request_body: str
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def request_json(self) -> Any:
        return json.loads(self.request_body) if self.request_body else None


@dataclass
class Cassette:
    name: str
    interactions: list[Interaction] = field(default_factory=list)

    def find(self, method: str, path_contains: str = "", status: int | None = None) -> list[Interaction]:
        return [i for i in self.interactions if i.method == method and path_contains in i.path
                and (status is None or i.status == status)]

    def one(self, method: str, path_contains: str = "", status: int | None = None) -> Interaction:
        found = self.find(method, path_contains, status)
        if not found:
            raise LookupError(f"{self.name}: no {method} {path_contains!r} recorded")
        return found[0]


def _text(body: dict) -> str:
    if body.get("base64_string"):
        raw = base64.b64decode(body["base64_string"])
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    return body.get("string") or ""


def _path(raw: str) -> str:
    path = urlsplit(raw).path
    return path[:-5] if path.endswith(".json") else path


def load(name: str) -> Cassette:
    data = json.loads((CASSETTES / f"{name}.json").read_text(encoding="utf-8"))
    out = Cassette(name)
    for item in data["http_interactions"]:
        req, resp = item["request"], item["response"]
        url = urlsplit(req["uri"])
        headers = {k: v[0] if isinstance(v, list) else v for k, v in resp["headers"].items()}
        out.interactions.append(Interaction(
            method=req["method"].upper(), path=_path(req["uri"]), query=parse_qs(url.query),
            request_body=_text(req["body"]), status=int(resp["status"]["code"]), headers=headers,
            body=_text(resp["body"])))
    return out


def names() -> list[str]:
    return sorted(p.stem for p in CASSETTES.glob("*.json"))


class ReplayServer:
    """Serves the interactions of ``cassettes`` (in recorded order) at ``.url`` / ``.netloc``."""

    def __init__(self, *cassettes: Cassette):
        self.interactions = [i for c in cassettes for i in c.interactions]
        self.served: list[int] = []
        self.misses: list[str] = []
        self.requests: list[tuple[str, str, str]] = []       # method, path?query, body
        self._lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                status, headers, out = replay.answer(self.command, self.path, body)
                data = out.encode("utf-8")
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.netloc = f"127.0.0.1:{self._server.server_port}"
        self.url = f"http://{self.netloc}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="cassette-replay", daemon=True)
        self._thread.start()

    def answer(self, method: str, raw_path: str, body: str) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(raw_path)
        path, query = _path(parts.path), parse_qs(parts.query)
        with self._lock:
            self.requests.append((method, raw_path, body))
            matches = [n for n, i in enumerate(self.interactions)
                       if i.method == method and i.path == path and i.query == query]
            if not matches:
                self.misses.append(f"{method} {raw_path}")
                return 599, {"Content-Type": "application/json"}, json.dumps({"error": "NotRecorded"})
            unused = [n for n in matches if n not in self.served]
            n = unused[0] if unused else matches[-1]
            self.served.append(n)
        rec = self.interactions[n]
        headers = {k: v for k, v in rec.headers.items()
                   if k.lower() in ("content-type", "location", "retry-after", "x-rate-limit",
                                    "x-rate-limit-remaining", "x-zendesk-api-version")}
        return rec.status, headers, RECORDED_HOST.sub(self.url, rec.body)

    def as_served(self, interaction: Interaction) -> Any:
        """The JSON body of ``interaction`` as this server answers it (recorded URLs pointing here)."""
        return json.loads(RECORDED_HOST.sub(self.url, interaction.body)) if interaction.body else None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- shapes ------------------------------------------------------------------------------------
WHOLE_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FRACTION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$")


def shape(value: Any) -> Any:
    """The JSON kind of ``value``: a dict of key shapes for objects, ``["list", item shape]`` for
    arrays (item shapes merged; ``None`` when empty), a kind name otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "datetime" if WHOLE_SECONDS.match(value) else "datetime-fraction" if FRACTION.match(value) \
            else "string"
    if isinstance(value, list):
        item = None
        for v in value:
            item = _merge(item, shape(v))
        return ["list", item]
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    raise TypeError(f"not JSON: {type(value).__name__}")


def _merge(a: Any, b: Any) -> Any:
    if a is None or a == "null":
        return b
    if b is None or b == "null":
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return ["list", _merge(a[1], b[1])]
    return a


def _compatible(recorded: str, local: str) -> bool:
    if recorded == local or "null" in (recorded, local):
        return True
    # Zendesk answers a freshly created webhook with a fractional created_at, whole seconds after
    return recorded == "datetime-fraction" and local == "datetime"


def shape_diff(recorded: Any, local: Any, path: str = "$") -> list[str]:
    """Where ``local`` differs from ``recorded`` in shape: ``missing``, ``extra`` keys and kind
    changes, as ``"<json path>: <what>"``; null on either side matches anything."""
    return _diff(shape(recorded), shape(local), path)


def _kind(s: Any) -> str:
    return "object" if isinstance(s, dict) else "list" if isinstance(s, list) else s


def _diff(rec: Any, loc: Any, path: str) -> list[str]:
    if rec is None or loc is None or "null" in (rec, loc):
        return []
    if isinstance(rec, dict) and isinstance(loc, dict):
        out = [f"{path}.{k}: missing" for k in rec if k not in loc]
        out += [f"{path}.{k}: extra" for k in loc if k not in rec]
        for k in rec:
            if k in loc:
                out += _diff(rec[k], loc[k], f"{path}.{k}")
        return out
    if isinstance(rec, list) and isinstance(loc, list):
        return _diff(rec[1], loc[1], f"{path}[]")
    if not _compatible(_kind(rec), _kind(loc)):
        return [f"{path}: {_kind(rec)} recorded, {_kind(loc)} locally"]
    return []


def unexplained(diffs: list[str], explained: dict[str, str]) -> list[str]:
    """The differences not covered by ``explained`` (``{json path: why}``): a missing or extra
    key at that path or below it is covered; a changed kind never is."""
    def covered(diff: str) -> bool:
        path, _, what = diff.partition(": ")
        return what in ("missing", "extra") and any(path == p or path.startswith(p + ".") for p in explained)
    return [d for d in diffs if not covered(d)]
