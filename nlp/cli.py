"""``tiergate score``, ``tiergate train``, ``tiergate eval`` (click commands, spaCy imported lazily
so ``tiergate --help`` stays fast).

score   JSON lines ``{"text": ...}`` or ``{"comments": [...]}`` on stdin -> one JSON line per input,
        in order: attention_score, sentiment, sentiment_label, complaint, risk_tags, reasons
        (+ amounts, model_score). Batched through ``nlp.pipe``; ``--workers N`` fans chunks out to
        a process pool whose workers each build their own pipeline and return plain dicts.
train   see ``tiergate.nlp.train``.
eval    see ``tiergate.nlp.evaluate``.
"""
from __future__ import annotations

import json
import os
import sys
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

import click

CHUNK = 2000
_WORKER = None


def _load_keywords(manifest: str | None) -> tuple[Any, str | None]:
    """(keywords or None, model path or None) from a manifest file, defensively."""
    if not manifest:
        try:
            from tiergate.plugin.core.manifest import default_manifest_path, load_manifest

            path = default_manifest_path()
            if Path(path).exists():
                m = load_manifest(path)
                return getattr(m, "keywords", None) or None, getattr(m, "nlp_model", None)
        except Exception:  # noqa: BLE001 - no (valid) default manifest: built-in keyword lists
            pass
        return None, None
    try:
        from tiergate.plugin.core.manifest import load_manifest

        m = load_manifest(manifest)
        return getattr(m, "keywords", None) or None, getattr(m, "nlp_model", None)
    except ImportError:
        with open(manifest, encoding="utf-8") as fh:
            data = json.load(fh)
        return data.get("keywords") or None, data.get("nlp_model")


def _result(en) -> dict[str, Any]:
    out = {
        "attention_score": en.attention_score,
        "sentiment": en.sentiment,
        "sentiment_label": en.sentiment_label,
        "complaint": en.complaint,
        "risk_tags": [r.to_dict() for r in en.risk_tags],
        "reasons": [r.to_dict() for r in en.reasons],
        "amounts": dict(en.amounts),
    }
    if en.model_score is not None:
        out["model_score"] = en.model_score
    return out


def _parse(lines: Iterable[tuple[int, str]]) -> list[list[str]]:
    from tiergate.nlp.records import InputError, parse_comments

    convs = []
    for number, raw in lines:
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(number, "<line>", f"not valid JSON ({exc.msg} at column {exc.colno})")
        convs.append(parse_comments(obj, number))
    return convs


def _numbered(stream) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(stream, 1):
        if raw.strip():
            yield number, raw


def _worker_init(keywords, model):
    global _WORKER
    from tiergate.nlp.enrich import Enricher

    _WORKER = Enricher(keywords, model_path=model)


def _worker_score(convs: list[list[str]]) -> list[str]:
    return [json.dumps(_result(e)) for e in _WORKER.score_many(convs)]  # type: ignore[union-attr]


@click.command()
@click.option("--manifest", "manifest", type=click.Path(exists=True, dir_okay=False),
              help="Manifest whose keyword lists (and nlp_model) to use.")
@click.option("--model", "model", type=click.Path(exists=True, file_okay=False),
              help="Trained model folder (tiergate train --out); overrides the manifest's.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes; each builds its own pipeline (worth it for large inputs).")
def score(manifest: str | None, model: str | None, workers: int) -> None:
    """Score JSON lines from stdin: {"text": ...} or {"comments": [...]} -> one JSON line each."""
    from tiergate.nlp.records import InputError

    keywords, manifest_model = _load_keywords(manifest)
    model = model or manifest_model
    stream = _numbered(sys.stdin)
    out = sys.stdout
    try:
        if workers > 1:
            import multiprocessing as mp

            chunks = iter(lambda: _parse(islice(stream, CHUNK)), [])
            with mp.get_context("fork" if hasattr(os, "fork") else "spawn").Pool(
                    workers, initializer=_worker_init, initargs=(keywords, model)) as pool:
                for lines in pool.imap(_worker_score, chunks):
                    out.write("\n".join(lines) + "\n")
        else:
            from tiergate.nlp.enrich import Enricher

            enricher = Enricher(keywords, model_path=model)
            while True:
                convs = _parse(islice(stream, CHUNK))
                if not convs:
                    break
                out.write("\n".join(json.dumps(_result(e)) for e in enricher.score_many(convs))
                          + "\n")
        out.flush()
    except InputError as exc:
        out.flush()
        raise click.ClickException(str(exc))


@click.command()
@click.option("--history", required=True, type=click.Path(exists=True, dir_okay=False),
              help='JSON lines {"text": ... | "comments": [...], "label": true|false} or '
                   '"level": 0..9 instead of "label" (how far it was escalated).')
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the model to (point the manifest's nlp_model at it).")
@click.option("--folds", default=5, show_default=True, help="Cross-validation folds (0: none).")
@click.option("--epochs", default=8, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--embeddings/--no-embeddings", default=None,
              help="The MiniLM embedding column (default: when tiergate[embeddings] and its "
                   "model wheel are installed).")
def train(history: str, out: str, folds: int, epochs: int, seed: int,
          embeddings: bool | None) -> None:
    """Train the escalation classifier from resolved-ticket history (escalated / not, or graded
    levels); report k-fold quality."""
    from tiergate.nlp.embed import EmbeddingsUnavailable
    from tiergate.nlp.records import InputError
    from tiergate.nlp.train import train_from_history

    try:
        report = train_from_history(history, out, folds=folds, epochs=epochs, seed=seed,
                                    log=lambda s: click.echo(s, err=True), embeddings=embeddings)
    except InputError as exc:
        raise click.ClickException(f"{history}: {exc}")
    except EmbeddingsUnavailable as exc:
        raise click.ClickException(str(exc))
    except ValueError as exc:
        raise click.ClickException(str(exc))
    click.echo(json.dumps(report, indent=2))


@click.command("eval")
@click.option("--data", default=None, type=click.Path(file_okay=False),
              help="Labelled data folder (default ../shared/data or $TIERGATE_SHARED_DATA).")
@click.option("--model", "model", type=click.Path(exists=True, file_okay=False),
              help="Use this escalation model for the trained risk row instead of training one.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--no-train", is_flag=True, help="Rules only (skip the trained models).")
def eval_cmd(data: str | None, model: str | None, as_json: bool, no_train: bool) -> None:
    """Measure the tagger on labelled public text (proxy labels; see docs/nlp.md)."""
    from tiergate.nlp.evaluate import evaluate, format_table

    folder = Path(data or os.environ.get("TIERGATE_SHARED_DATA") or Path.cwd().parent / "shared"
                  / "data")
    missing = [d for d in ("complaints", "airline_sentiment", "support_intents")
               if not (folder / d).is_dir()]
    if missing:
        raise click.ClickException(f"--data {folder}: missing folder(s) {', '.join(missing)}")
    result = evaluate(folder, model, train=not no_train,
                      log=lambda s: click.echo(s, err=True))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(format_table(result))
