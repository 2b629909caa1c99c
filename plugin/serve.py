"""``tiergate serve``: the webhook receiver under waitress (a production WSGI server), configured
by the environment (``Settings.from_env()``). Refuses to start without ``TIERGATE_WEBHOOK_SECRET``.
"""
from __future__ import annotations

import gc
import logging
import sys

import click
from waitress import create_server

from tiergate.plugin.web import ConfigError, create_app
from tiergate.runtime.config import Settings
from tiergate.runtime.redact import install as install_redaction

log = logging.getLogger("tiergate.serve")

# waitress buffers a whole request before the app sees it: cap that far below its 1 GiB default,
# but above the app's own limit so oversize bodies still get the app's JSON 413.
WAITRESS_BODY_SLACK = 64 * 1024
# idle/slow connections are dropped after this many seconds (helpdesks time out after ~10 s)
CHANNEL_TIMEOUT = 30
# Idle connections hold no thread (waitress reads requests in its I/O loop and hands only whole
# requests to the threads), but past ``connection_limit`` (waitress default 100) it stops
# accepting, and select() cannot watch descriptors above 1024: poll() and a high limit keep a
# flood of idle sockets from blocking webhooks. The open-file limit is raised to fit.
CONNECTION_LIMIT = 4096


def _raise_open_files(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (+ slack); returns the connection limit
    that fits under it."""
    try:
        import resource  # POSIX only; elsewhere the limit stays as it is

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted + 256 if hard == resource.RLIM_INFINITY else min(hard, wanted + 256)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    except (ImportError, ValueError, OSError):  # pragma: no cover - platform without rlimits
        return wanted
    return wanted if soft == resource.RLIM_INFINITY else max(64, min(wanted, soft - 256))


def _warn_without_persistence(app) -> None:
    """A 2xx means "stored": that only survives a Redis restart with AOF on. Best effort (managed
    Redis may refuse CONFIG); never blocks the start."""
    try:
        conn = app.extensions["tiergate"].redis
        appendonly = conn.config_get("appendonly").get("appendonly")
        fsync = conn.config_get("appendfsync").get("appendfsync")
    except Exception as exc:  # noqa: BLE001 - unreachable Redis or CONFIG disabled
        log.warning("redis persistence unknown error=%s (healthz reports reachability)", type(exc).__name__)
        return
    if appendonly in (b"no", "no"):
        log.warning("redis persistence appendonly=no: deliveries acknowledged since the last "
                    "snapshot are lost if Redis restarts; set appendonly yes (appendfsync everysec "
                    "or always)")
    else:
        log.info("redis persistence appendonly=yes appendfsync=%s", fsync.decode() if isinstance(fsync, bytes) else fsync)


def make_server(app, settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
                connection_limit: int = CONNECTION_LIMIT):
    """The waitress server ``tiergate serve`` runs (``.run()``, ``.close()``, ``.effective_port``)
    and the connection limit it got after raising the open-file limit."""
    limit = _raise_open_files(connection_limit)
    server = create_server(app, host=host, port=port, threads=threads, ident="tiergate",
                           max_request_body_size=settings.max_body_bytes + WAITRESS_BODY_SLACK,
                           clear_untrusted_proxy_headers=True, channel_timeout=CHANNEL_TIMEOUT,
                           connection_limit=limit, asyncore_use_poll=True, backlog=2048)
    _freeze_heap()
    return server, limit


def _freeze_heap() -> None:
    """Move everything alive at start (modules, the app, its schemas: ~150k objects) out of the
    garbage collector's reach: a full collection otherwise walks them all, a pause of tens of
    milliseconds in whichever request triggers it. Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Worker threads answering requests.")
@click.option("--connection-limit", default=CONNECTION_LIMIT, show_default=True,
              type=click.IntRange(16, 65536), help="Open connections accepted at once (idle ones "
              "included); the open-file limit is raised to fit.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def serve(host: str, port: int, threads: int, connection_limit: int, log_level: str) -> None:
    """Run the webhook receiver (POST /webhooks/<helpdesk>, GET /healthz)."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except (TypeError, ValueError) as exc:
        click.echo(f"tiergate serve: bad configuration: {exc}", err=True)
        sys.exit(2)

    install_redaction(settings, ("tiergate", "waitress", "redis"))
    if not settings.webhook_secret:
        click.echo("tiergate serve: TIERGATE_WEBHOOK_SECRET is required (the helpdesk webhook's "
                   "signing secret); refusing to start", err=True)
        sys.exit(2)



    try:
        app = create_app(settings)
    except ConfigError as exc:
        click.echo(f"tiergate serve: {exc}", err=True)
        sys.exit(2)
    _warn_without_persistence(app)
    redacted = settings.redacted()
    click.echo("tiergate serve settings: " + " ".join(f"{k}={redacted[k]}" for k in sorted(redacted)))
    server, limit = make_server(app, settings, host=host, port=port, threads=threads,
                                connection_limit=connection_limit)
    click.echo(f"tiergate serve: listening on http://{host}:{server.effective_port} threads={threads} "
               f"connection_limit={limit}")
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:  # pragma: no cover - interactive stop
        pass
    finally:
        server.close()
