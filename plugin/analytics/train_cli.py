"""``tiergate train``: the classifier trained on resolved-ticket history, with reviewers' verdicts
from the decision log as labels that override the history-derived ones (``verdicts.py``).

The options of ``tiergate.nlp.cli:train`` plus ``--db`` (the decision log; default as ``tiergate
report`` finds it, and none at all is no error: the history alone is used), ``--helpdesk`` (whose
tickets the history holds) and ``--no-verdicts``. It says how many verdicts it used.
"""
from __future__ import annotations

import click

from tiergate.nlp import cli as nlp_cli
from tiergate.plugin.analytics.cli import open_log
from tiergate.plugin.analytics.verdicts import relabeller, verdicts
from tiergate.runtime.cli_defaults import NoDecisionLog, resolve_db
from tiergate.runtime.config import Settings
from tiergate.runtime.redact import redact_url


def _verdicts(db: str | None, helpdesk: str | None):
    try:
        choice = resolve_db(db)
    except NoDecisionLog as exc:
        if db is not None:
            raise click.ClickException(str(exc)) from None
        click.echo(f"review verdicts: none (no decision log: {exc})", err=True)
        return {}
    helpdesk = helpdesk or Settings.from_env().helpdesk
    log = open_log(choice.value)
    try:
        found = verdicts(log.reviews(), helpdesk)
    finally:
        log.close()
    click.echo(f"review verdicts: {len(found)} {helpdesk} ticket(s) with a verdict in "
               f"{redact_url(choice.value)} ({choice.why})", err=True)
    return found


def _train(history: str, out: str, folds: int, epochs: int, seed: int, embeddings: bool | None,
           db: str | None, helpdesk: str | None, use_verdicts: bool) -> None:
    found = _verdicts(db, helpdesk) if use_verdicts else {}
    nlp_cli.run_train(history, out, folds, epochs, seed, embeddings,
                      relabel=relabeller(found) if use_verdicts else None)


train = click.Command(
    "train", callback=_train,
    params=[*nlp_cli.train.params,
            click.Option(["--db", "db"], metavar="URL", default=None,
                         help="Decision log whose review verdicts override history labels (default: "
                              "TIERGATE_DB_URL, else ./tiergate.sqlite, else the last demo's log; none: "
                              "history labels only)."),
            click.Option(["--helpdesk"], default=None,
                         help="The desk the history's ticket ids belong to (default: TIERGATE_HELPDESK or zendesk)."),
            click.Option(["--verdicts/--no-verdicts", "use_verdicts"], default=True, show_default=True,
                         help="Use reviewers' verdicts (tiergate review record) as labels.")],
    help=(nlp_cli.train.help or "") + " Reviewers' verdicts in the decision log (tiergate review record: "
         "--necessary, --lower-tier, --level) override the history's label of their tickets.")
