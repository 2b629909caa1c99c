"""``tiergate score``, ``tiergate train``, ``tiergate eval`` (click commands, spaCy imported lazily
so ``tiergate --help`` stays fast).

score   JSON lines ``{"text": ...}`` or ``{"comments": [...]}`` on stdin -> one JSON line per input,
        in order: attention_score, sentiment, sentiment_label, complaint, risk_tags, reasons
        (+ amounts, model_score). Batched through ``nlp.pipe``; ``--workers N`` fans chunks out to
        a process pool whose workers each build their own pipeline and return plain dicts.
        Each line stands alone: bytes are decoded defensively and the texts cleaned and bounded
        (``nlp.normalise``; a cut is stated in a ``text_budget`` reason); a line that cannot be
        used yields ``{"line": N, "field": ..., "error": ...}`` in its place. Exit 0, or 1 when
        every line was bad.
train   see ``tiergate.nlp.train``.
eval    see ``tiergate.nlp.evaluate``.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

import click

from tiergate.nlp.embed import EmbeddingsUnavailable
from tiergate.nlp.normalise import CLEAN_LIMIT, bound_conversation, clean_text
from tiergate.nlp.records import InputError, parse_comments
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest

CHUNK = 2000
_WORKER = None


def _load_keywords(manifest: str | None) -> tuple[Any, str | None]:
    """(keywords or None, model path or None) from a manifest file, defensively."""
    if not manifest:
        try:
            path = default_manifest_path()
            if Path(path).exists():
                m = load_manifest(path)
                return getattr(m, "keywords", None) or None, getattr(m, "nlp_model", None)
        except Exception:  # noqa: BLE001 - no (valid) default manifest: built-in keyword lists
            pass
        return None, None
    try:
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


class _Line(NamedTuple):
    """One input line: its texts (cleaned, bounded) and budget note, or its error object."""

    number: int
    texts: list[str] | None
    note: str | None = None
    error: dict[str, Any] | None = None


def _error(number: int, field: str, message: str) -> _Line:
    return _Line(number, None, error={"line": number, "field": field,
                                      "error": f"line {number}: field {field!r}: {message}"})


def _parse_line(number: int, raw: bytes | str) -> _Line:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return _error(number, "<line>", f"not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return _error(number, "<line>", "not valid JSON (nested too deeply)")
    try:
        comments = parse_comments(obj, number)
    except InputError as exc:
        return _error(number, exc.field, exc.message)
    texts, note = bound_conversation([clean_text(c, CLEAN_LIMIT) for c in comments])
    return _Line(number, texts, note)


def _parse(lines: Iterable[tuple[int, bytes | str]]) -> list[_Line]:
    out = []
    for number, raw in lines:
        try:
            out.append(_parse_line(number, raw))
        except Exception as exc:  # noqa: BLE001 - this line only
            out.append(_error(number, "<line>", f"could not be read ({type(exc).__name__})"))
    return out


def _numbered(stream) -> Iterator[tuple[int, bytes | str]]:
    for number, raw in enumerate(stream, 1):
        if raw.strip():
            yield number, raw


def _score_lines(enricher, items: list[_Line]) -> list[str]:
    """One JSON line per item, in order; a conversation that still fails to score becomes the
    error object of its own line (the chunk is scored again one by one)."""
    good = [it for it in items if it.texts is not None]
    try:
        results: list[Any] = enricher.score_many([it.texts for it in good])
    except Exception:  # noqa: BLE001 - find the culprit: each conversation alone
        results = []
        for it in good:
            try:
                results.append(enricher.score_many([it.texts])[0])
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
    scored = dict(zip((it.number for it in good), results))
    out = []
    for it in items:
        if it.error is not None:
            out.append(json.dumps(it.error))
            continue
        result = scored[it.number]
        if isinstance(result, Exception):
            out.append(json.dumps(_error(it.number, "<line>", "could not be scored ("
                                         f"{type(result).__name__}: {clean_text(str(result))[:200]})").error))
            continue
        row = _result(result)
        if it.note:
            row["reasons"].append({"signal": "text_budget", "points": 0.0, "detail": it.note})
        out.append(json.dumps(row))
    return out


def _worker_init(keywords, model):
    global _WORKER
    # spaCy: ~1 s (-X importtime) that `--help` need not pay
    from tiergate.nlp.enrich import Enricher

    _WORKER = Enricher(keywords, model_path=model)


def _worker_score(items: list[_Line]) -> list[str]:
    return _score_lines(_WORKER, items)


@click.command()
@click.option("--manifest", "manifest", type=click.Path(exists=True, dir_okay=False),
              help="Manifest whose keyword lists (and nlp_model) to use.")
@click.option("--model", "model", type=click.Path(exists=True, file_okay=False),
              help="Trained model folder (tiergate train --out); overrides the manifest's.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes; each builds its own pipeline (worth it for large inputs).")
def score(manifest: str | None, model: str | None, workers: int) -> None:
    """Score JSON lines from stdin: {"text": ...} or {"comments": [...]} -> one JSON line each
    (a bad line: {"line": N, "field": ..., "error": ...})."""
    keywords, manifest_model = _load_keywords(manifest)
    model = model or manifest_model
    stream = _numbered(getattr(sys.stdin, "buffer", sys.stdin))
    out = sys.stdout
    lines = errors = 0

    def emit(rows: list[str]) -> None:
        nonlocal lines, errors
        lines += len(rows)
        errors += sum(1 for r in rows if r.startswith('{"line": '))
        out.write("\n".join(rows) + "\n")

    chunks = iter(lambda: _parse(islice(stream, CHUNK)), [])
    if workers > 1:
        with mp.get_context("fork" if hasattr(os, "fork") else "spawn").Pool(
                workers, initializer=_worker_init, initargs=(keywords, model)) as pool:
            for rows in pool.imap(_worker_score, chunks):
                emit(rows)
    else:
        # spaCy: ~1 s (-X importtime) that `--help` need not pay
        from tiergate.nlp.enrich import Enricher

        enricher = Enricher(keywords, model_path=model)
        for items in chunks:
            emit(_score_lines(enricher, items))
    out.flush()
    if errors:
        click.echo(f"tiergate score: {errors} of {lines} line(s) could not be scored; each has an "
                   f'"error" object in its place', err=True)
        if errors == lines:
            raise click.ClickException("no line could be scored")


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
    run_train(history, out, folds, epochs, seed, embeddings)


def run_train(history: str, out: str, folds: int, epochs: int, seed: int, embeddings: bool | None,
              relabel: Any = None) -> None:
    """``train``'s body; ``relabel(id, level)`` gives reviewers' labels (``records.read_labelled``)."""
    # spaCy: ~1 s (-X importtime) that `--help` need not pay
    from tiergate.nlp.train import train_from_history

    try:
        report = train_from_history(history, out, folds=folds, epochs=epochs, seed=seed,
                                    log=lambda s: click.echo(s, err=True), embeddings=embeddings,
                                    relabel=relabel)
    except InputError as exc:
        raise click.ClickException(f"{history}: {exc}")
    except EmbeddingsUnavailable as exc:
        raise click.ClickException(str(exc))
    except ValueError as exc:
        raise click.ClickException(str(exc))
    click.echo(json.dumps(report, indent=2))


def text_eval(data: str | None, model: str | None, as_json: bool, no_train: bool,
              seeds: int = 1) -> None:
    """Measure the tagger on labelled public text (proxy labels; see docs/nlp.md)."""
    # spaCy and the trainers: ~1 s (-X importtime) that `tiergate eval --help` need not pay
    from tiergate.nlp.evaluate import SEEDS, across_seeds, evaluate, format_seeds, format_table

    folder = Path(data or os.environ.get("TIERGATE_SHARED_DATA") or Path.cwd().parent / "shared"
                  / "data")
    missing = [d for d in ("complaints", "airline_sentiment", "support_intents")
               if not (folder / d).is_dir()]
    if missing:
        raise click.ClickException(f"--data {folder}: missing folder(s) {', '.join(missing)}")
    log = lambda s: click.echo(s, err=True)  # noqa: E731
    if seeds > 1:
        result = across_seeds(folder, SEEDS[:seeds], train=not no_train, log=log,
                              model_dir=model)
        click.echo(json.dumps(result, indent=2) if as_json else format_seeds(result))
        return
    result = evaluate(folder, model, train=not no_train, log=log)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(format_table(result))
