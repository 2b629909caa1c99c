"""``tiergate localdesk``: run the local Zendesk- or Zammad-compatible desk on a fixed port, so
``install``, ``serve`` and ``worker`` can be tried against it exactly as against a real desk.
It prints the environment that points tiergate at it and runs until Ctrl-C."""
from __future__ import annotations

import time

import click

from tiergate.localdesk import zammad, zendesk
from tiergate.plugin.helpdesks import DEMO_EMAIL, DEMO_SUBDOMAIN, DEMO_TOKEN


def zendesk_environment(handle) -> dict[str, str]:
    """The variables that point the Zendesk connector (zenpy) at the local desk."""
    return {"TIERGATE_HELPDESK": "zendesk", "ZENDESK_SUBDOMAIN": handle.subdomain,
            "ZENDESK_EMAIL": handle.email, "ZENDESK_API_TOKEN": handle.token,
            "ZENPY_FORCE_SCHEME": "http", "ZENPY_FORCE_NETLOC": handle.netloc}


def zammad_environment(handle) -> dict[str, str]:
    return {"TIERGATE_HELPDESK": "zammad", "ZAMMAD_URL": handle.url, "ZAMMAD_TOKEN": handle.token}


def start(helpdesk: str, port: int):
    """The running local desk and the environment that points tiergate at it."""
    if helpdesk == "zammad":
        handle = zammad.start_server(port=port)
        return handle, zammad_environment(handle)
    handle = zendesk.start_server(port=port, email=DEMO_EMAIL, token=DEMO_TOKEN,
                                  subdomain=DEMO_SUBDOMAIN)
    return handle, zendesk_environment(handle)


@click.command("localdesk")
@click.option("--helpdesk", type=click.Choice(["zendesk", "zammad"]), default="zendesk",
              show_default=True)
@click.option("--port", type=int, default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")
def localdesk(helpdesk: str, port: int) -> None:
    """Run the local helpdesk until Ctrl-C and print the environment that points tiergate at it."""
    try:
        handle, env = start(helpdesk, port)
    except (OSError, SystemExit):      # werkzeug exits when the port is taken
        raise click.ClickException(f"--port {port}: cannot listen on 127.0.0.1:{port}; "
                                   "is it in use? (--port 0 picks a free one)") from None
    click.echo(f"local {helpdesk} desk at {handle.url}; point tiergate at it with:")
    for name, value in env.items():
        click.echo(f"export {name}={value}")
    click.echo("Ctrl-C stops it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        handle.stop()
