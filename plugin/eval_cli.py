"""``tiergate eval`` and ``tiergate calibrate``.

``eval --tickets FILE`` judges decisions on labelled tickets (``plugin.benchmark``); without it,
the text figures on the shared labelled data (``nlp.evaluate``). ``calibrate --tickets FILE``
fits the semantic layer's per-tag thresholds on labelled tickets and writes them into the
manifest's ``nlp.thresholds`` (only with ``--write``). Never point calibrate at a held-back file:
``benchmark/tickets-heldout.jsonl`` is refused.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from tiergate.nlp.calibrate import calibrate as fit, expected_tags
from tiergate.nlp.cli import text_eval
from tiergate.nlp.enrich import Enricher
from tiergate.nlp.language import detect_language
from tiergate.nlp.reading import read_conversation
from tiergate.plugin.benchmark import decide_rows, read_labelled, score, text_report
from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest
from tiergate.plugin.examples import parse_now
from tiergate.plugin.simulate import ticket_from_example

HELD_BACK = "heldout"


def _manifest(path: str | None):
    path = path or default_manifest_path()
    try:
        return path, load_manifest(path)
    except ManifestError as exc:
        raise click.ClickException(f"{path}: {exc}")


@click.command("eval")
@click.option("--tickets", "tickets", type=click.Path(exists=True, dir_okay=False),
              help="Labelled tickets (JSON lines with a 'label'): judge the decisions.")
@click.option("--manifest", "manifest_path", type=click.Path(exists=True, dir_okay=False),
              help="Manifest for --tickets (default: the shipped one).")
@click.option("--now", "now_text", default=None, help="Decide at this instant (ISO-8601).")
@click.option("--worst", default=10, show_default=True, help="Misses listed with --tickets.")
@click.option("--data", default=None, type=click.Path(file_okay=False),
              help="Labelled data folder (default ../shared/data or $TIERGATE_SHARED_DATA).")
@click.option("--model", "model", type=click.Path(exists=True, file_okay=False),
              help="Use this escalation model for the trained risk row instead of training one.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--no-train", is_flag=True, help="Rules only (skip the trained models).")
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(1, 5),
              help="Text figures over this many 70/30 split seeds (value per seed, mean, spread).")
def eval_cmd(tickets, manifest_path, now_text, worst, data, model, as_json, no_train, seeds):
    """Judge decisions on labelled tickets (--tickets), or the text figures on labelled data."""
    if not tickets:
        return text_eval(data, model, as_json, no_train, seeds)

    now = parse_now(now_text)
    rows = read_labelled(tickets)
    _, manifest = _manifest(manifest_path)
    enricher = Enricher.from_manifest(manifest)
    result = score(decide_rows(rows, manifest, now, enricher.enrich), worst=worst)
    result["now"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    click.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json
               else text_report(result))


@click.command()
@click.option("--tickets", "tickets", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Labelled tickets whose label.tags say which risk tags each should carry.")
@click.option("--manifest", "manifest_path", type=click.Path(exists=True, dir_okay=False),
              help="Manifest to calibrate (default: the shipped one).")
@click.option("--now", "now_text", default=None, help="Read the tickets at this instant.")
@click.option("--write", is_flag=True, help="Write the thresholds into the manifest file.")
def calibrate(tickets, manifest_path, now_text, write):
    """Fit the semantic layer's per-tag similarity thresholds on labelled tickets."""
    if HELD_BACK in Path(tickets).name:
        raise click.UsageError(f"{tickets}: held-back tickets are for evaluation only")
    now = parse_now(now_text)
    rows = read_labelled(tickets)
    path, manifest = _manifest(manifest_path)
    detector = Enricher.from_manifest(manifest).risk
    findings = []
    for i, row in enumerate(rows, 1):
        conv = read_conversation(ticket_from_example(row, now, i), now)
        text = "\n".join(m.text for m in conv.customer[-3:])
        findings.append(detector.detect(conv, detect_language(text).code))
    thresholds, report = fit(findings, expected_tags(rows), detector)
    click.echo(json.dumps({"thresholds": thresholds, "tags": report}, indent=2))
    if write:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))   # the file as written: a site
        doc.setdefault("nlp", {})["thresholds"] = thresholds       # file stays a site file
        Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")
        click.echo(f"wrote nlp.thresholds into {path}", err=True)
