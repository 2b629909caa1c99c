"""The ``tiergate`` command. Each sub-command lives in the module that owns its subject and is
imported only when used, so ``tiergate check`` never loads spaCy."""
from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command; modules are imported lazily.
COMMANDS: dict[str, str] = {
    "demo": "tiergate.plugin.demo:demo",
    "serve": "tiergate.plugin.serve:serve",
    "worker": "tiergate.jobs.worker:worker",
    "check": "tiergate.plugin.manifest_cli:check",
    "schema": "tiergate.plugin.manifest_cli:schema",
    "manifest": "tiergate.plugin.manifest_cli:manifest",
    "simulate": "tiergate.plugin.simulate:simulate",
    "score": "tiergate.nlp.cli:score",
    "train": "tiergate.plugin.analytics.train_cli:train",
    "eval": "tiergate.plugin.eval_cli:eval_cmd",
    "calibrate": "tiergate.plugin.eval_cli:calibrate",
    "report": "tiergate.plugin.analytics.cli:report",
    "backfill": "tiergate.plugin.analytics.cli:backfill",
    "review": "tiergate.plugin.analytics.cli:review",
    "failed": "tiergate.jobs.failed:failed",
    "install": "tiergate.plugin.install:install",
    "uninstall": "tiergate.plugin.install:uninstall",
    "import-sla": "tiergate.plugin.sla_import:import_sla",
    "localdesk": "tiergate.plugin.localdesk_cli:localdesk",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup)
@click.version_option(package_name="tiergate")
def main() -> None:
    """tiergate: escalation guard for Zendesk-style helpdesks."""


if __name__ == "__main__":  # pragma: no cover
    main()
