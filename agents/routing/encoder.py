"""What the embedded sentence encoders share: a transformer encoder's forward pass in numpy.

`Encoder` tokenizes, batches texts of similar lengths, runs the layers (self-attention and the
feed-forward, each with a residual and a layer norm: BERT's and MPNet's layers are the same
maths under different weight names), mean-pools the real tokens and returns unit vectors. A
model says how its tokens enter the first layer (`_inputs`: embeddings, and the additive
attention bias: padding, relative positions). No torch is imported.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Self, cast

import numpy as np
from langchain_core.embeddings import Embeddings

from accord.agents.routing.fit import Calibration

Array = np.ndarray[Any, np.dtype[np.float32]]
Weights = dict[str, Array]

BATCH = 64
PADDING = np.float32(-1e9)
"""Added to the attention scores of padding tokens: nothing attends to them."""


class Encoder(Embeddings):
    """A sentence encoder's forward pass: unit vectors of mean-pooled token states.

    A LangChain `Embeddings`, so it also serves vector stores; `encode` returns the matrix.

    Attributes:
        calibrations: The fits' calibrations fitted for this model ("embedding",
            "embedding+head", "hybrid"), read by `EmbeddingFit` and `HybridFit` (none:
            MiniLM's, their defaults).

    Args:
        folder: Holds `model.safetensors` and `tokenizer.json`.
        max_tokens: Longer texts are cut to this many tokens (the model's max_seq_length).
        heads: Attention heads per layer.
        eps: The layer norms' epsilon.
    """

    calibrations: ClassVar[dict[str, Calibration]] = {}

    def __init__(self, folder: Path, *, max_tokens: int, heads: int, eps: float) -> None:
        """Load the tokenizer and the weights (`_build` keeps what the model needs of them)."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.heads = heads
        self.eps = np.float32(eps)
        self.layers: list[Weights] = []
        w = load_file(str(folder / "model.safetensors"))
        # Both models' token embeddings and their norm go by BERT's names.
        self.words = w["embeddings.word_embeddings.weight"]
        self.width = self.words.shape[1]
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._build(w)
        self._lock = threading.Lock()  # the tokenizer's settings are shared state

    @classmethod
    def shared(cls) -> Self:
        """The process's one encoder of this model, loaded on first use."""
        return cast(Self, _shared(cls))

    def encode(self, texts: Sequence[str]) -> Array:
        """The unit vectors of `texts`, one row each (float32)."""
        if not texts:
            return np.zeros((0, self.width), dtype=np.float32)
        with self._lock:
            encodings = self.tokenizer.encode_batch(list(texts))
        ids = [e.ids for e in encodings]
        # Batches of similar lengths waste little on padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), self.width), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    @abstractmethod
    def _build(self, w: Weights) -> None:
        """Keep the rest of the weights the forward pass needs (`layers`, positions)."""

    @abstractmethod
    def _inputs(self, tokens: np.ndarray[Any, Any], mask: Array) -> tuple[Array, Array]:
        """The first layer's input `(batch, length, width)` and the attention bias added to
        every layer's scores, broadcastable to `(batch, heads, length, length)`."""

    def _forward(self, batch: list[list[int]]) -> Array:
        longest = max(len(ids) for ids in batch)
        tokens = np.zeros((len(batch), longest), dtype=np.int64)
        mask = np.zeros((len(batch), longest), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x, bias = self._inputs(tokens, mask)
        for layer in self.layers:
            x = block(x, bias, layer, self.heads, self.eps)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Array = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return unit

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain's interface: one vector per text."""
        vectors: list[list[float]] = self.encode(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """LangChain's interface: the vector of one text."""
        vector: list[float] = self.encode([text])[0].tolist()
        return vector


@cache
def _shared(model: Any) -> Encoder:
    """One encoder per model class (each loads its default weights with no arguments)."""
    encoder: Encoder = model()
    return encoder


def padding_bias(mask: Array) -> Array:
    """The attention bias that hides padding: `(batch, 1, 1, length)`."""
    blocked: Array = (1.0 - mask)[:, None, None, :] * PADDING
    return blocked


def layer(w: Mapping[str, Array], prefix: str, names: Mapping[str, str]) -> Weights:
    """One layer's weights, transposed for `x @ W` and with Q, K, V fused; `names` maps
    q, k, v, out, ln1, up, down, ln2 to the model's own names (without .weight/.bias)."""

    def get(key: str, part: str) -> Array:
        return w[f"{prefix}{names[key]}.{part}"]

    return {
        "qkv": np.ascontiguousarray(np.concatenate([get(n, "weight").T for n in "qkv"], axis=1)),
        "qkv_b": np.concatenate([get(n, "bias") for n in "qkv"]),
        "out": np.ascontiguousarray(get("out", "weight").T),
        "out_b": get("out", "bias"),
        "ln1": get("ln1", "weight"),
        "ln1_b": get("ln1", "bias"),
        "up": np.ascontiguousarray(get("up", "weight").T),
        "up_b": get("up", "bias"),
        "down": np.ascontiguousarray(get("down", "weight").T),
        "down_b": get("down", "bias"),
        "ln2": get("ln2", "weight"),
        "ln2_b": get("ln2", "bias"),
    }


def block(x: Array, bias: Array, w: Weights, heads: int, eps: np.float32) -> Array:
    """One transformer layer: self-attention and the feed-forward, each with residual + norm."""
    batch, length, width = x.shape
    size = width // heads
    qkv = (x @ w["qkv"] + w["qkv_b"]).reshape(batch, length, 3, heads, size)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + bias
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    scores /= scores.sum(axis=-1, keepdims=True)
    attended = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
    x = layer_norm(x + attended @ w["out"] + w["out_b"], w["ln1"], w["ln1_b"], eps)
    hidden = gelu(x @ w["up"] + w["up_b"])
    return layer_norm(x + hidden @ w["down"] + w["down_b"], w["ln2"], w["ln2_b"], eps)


def layer_norm(x: Array, weight: Array, bias: Array, eps: np.float32) -> Array:
    """Normalises the last axis to mean 0 and variance 1, then scales and shifts."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    normed: Array = centred / np.sqrt(var + eps) * weight + bias
    return normed


def gelu(x: Array) -> Array:
    """The exact GELU, `x Φ(x)`, with erf from Abramowitz-Stegun 7.1.26 (error < 1.5e-7)."""
    z = np.abs(x) * np.float32(1 / np.sqrt(2))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    out: Array = (np.float32(0.5) * x * (1.0 + erf)).astype(np.float32)
    return out
