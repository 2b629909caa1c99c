"""What both local desks share: a werkzeug server that does not log each request (the desks count
requests themselves) and the daemon thread it serves from."""
from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def quiet_server(host: str, port: int, app: Any) -> BaseWSGIServer:
    """A threaded server for ``app`` on ``host:port`` (0 = a free port), not yet serving."""
    return make_server(host, port, app, threaded=True, request_handler=QuietHandler)


def start_thread(server: BaseWSGIServer, name: str) -> threading.Thread:
    """Serve ``server`` forever from a daemon thread called ``name``."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread
