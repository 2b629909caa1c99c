"""``tiergate localdesk``: run the local Zendesk- or Zammad-compatible desk on a fixed port, so
``install``, ``serve`` and ``worker`` can be tried against it exactly as against a real desk.
It prints the environment that points tiergate at it and runs until Ctrl-C."""
from __future__ import annotations

import time

import click

from tiergate.plugin.helpdesks import LocalZammad, LocalZendesk
from tiergate.runtime.config import Settings

DESKS = {"zendesk": LocalZendesk, "zammad": LocalZammad}


def environment(helpdesk: str, desk) -> dict[str, str]:
    """The variables (``Settings.ENV`` names) that point tiergate at ``desk``."""
    overrides = {"helpdesk": helpdesk, **desk.settings_overrides()}
    return {Settings.ENV[name]: str(value) for name, value in overrides.items()}


@click.command("localdesk")
@click.option("--helpdesk", type=click.Choice(sorted(DESKS)), default="zendesk", show_default=True)
@click.option("--port", type=int, default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")
def localdesk(helpdesk: str, port: int) -> None:
    """Run the local helpdesk until Ctrl-C and print the environment that points tiergate at it."""
    try:
        desk = DESKS[helpdesk].start(port)
    except (OSError, SystemExit):      # werkzeug exits when the port is taken
        raise click.ClickException(f"--port {port}: cannot listen on 127.0.0.1:{port}; "
                                   "is it in use? (--port 0 picks a free one)") from None
    click.echo(f"local {helpdesk} desk at {desk.handle.url}; point tiergate at it with:")
    for name, value in environment(helpdesk, desk).items():
        click.echo(f"export {name}={value}")
    click.echo("Ctrl-C stops it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        desk.stop()
