"""Specialization fit: how well each agent's skills and description match a request, in (0, 1].

The default `LexicalFit` needs no model: BM25 over a tiny document per agent (its skills,
counted twice, its description and its name), with a light suffix-stripping stemmer so that
"invoices", "invoice" and "invoiced" meet. Anything with the same `FitScorer` shape replaces it:
`EmbeddingFit` (a LangChain `Embeddings`) or `CallableFit` (any function, e.g. an LLM judge).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Protocol

from langchain_core.embeddings import Embeddings

from accord.agents.agent import Agent
from accord.agents.errors import AgentSpecError

FLOOR = 0.05
"""The fit of an agent that matches nothing when another one does: low, never zero, so a full
or failing specialist can still lose to an idle generalist rather than zero out the product."""

K1 = 1.2
B = 0.75
SKILL_WEIGHT = 2
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "the",
        "their",
        "this",
        "to",
        "us",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


class FitScorer(Protocol):
    """Scores one request against the team it was built for.

    `fit(request)` returns one value per agent, in team order, each in (0, 1]: 1 for the best
    match. When nothing distinguishes the agents every value is 1 (the term is then neutral).
    """

    def fit(self, request: str) -> list[float]:
        """The fit of every agent to `request`, in team order."""
        ...


FitFactory = Callable[[Sequence[Agent]], FitScorer]
"""Builds a `FitScorer` for a team: `LexicalFit`, or e.g. `lambda team: EmbeddingFit(team, e)`."""


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A light English stemmer: plural, -ing, -ed and -ly endings, then a trailing "e".

    Not Porter: it only has to make the forms of one word meet, for both sides alike.
    """
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The stemmed words of `text`, stop words left out."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


def profile(agent: Agent) -> list[str]:
    """The words an agent is matched on: its skills (weighted), description and name."""
    skills = terms(" ".join(agent.skills))
    return [*skills * SKILL_WEIGHT, *terms(agent.description), *terms(agent.name.replace("_", " "))]


class LexicalFit:
    """BM25 of the request against each agent's profile, divided by the best agent's score.

    `fit_i = FLOOR + (1 - FLOOR) * bm25_i / max_j bm25_j`, or 1 for all when no word matches.
    The index is built once per team: a decision only walks the postings of the request's
    words, so its cost grows with the agents that match, not with the team.
    """

    def __init__(self, agents: Sequence[Agent]) -> None:
        """Index the team's profiles."""
        docs = [Counter(profile(a)) for a in agents]
        self.size = len(docs)
        lengths = [sum(d.values()) for d in docs]
        average = (sum(lengths) / len(lengths)) if lengths else 1.0
        frequency = Counter(word for doc in docs for word in doc)
        postings: dict[str, list[tuple[int, float]]] = {}
        for index, (doc, length) in enumerate(zip(docs, lengths, strict=True)):
            norm = K1 * (1 - B + B * length / (average or 1.0))
            for word, tf in doc.items():
                df = frequency[word]
                idf = math.log(1 + (self.size - df + 0.5) / (df + 0.5))
                postings.setdefault(word, []).append((index, idf * tf * (K1 + 1) / (tf + norm)))
        self.postings = {w: tuple(p) for w, p in postings.items()}

    def fit(self, request: str) -> list[float]:
        """The fit of every agent to `request`, in team order."""
        raw: dict[int, float] = {}
        for word in set(terms(request)):
            for index, weight in self.postings.get(word, ()):
                raw[index] = raw.get(index, 0.0) + weight
        if not raw:
            return [1.0] * self.size
        scale = (1 - FLOOR) / max(raw.values())
        fits = [FLOOR] * self.size
        for index, value in raw.items():
            fits[index] = FLOOR + value * scale
        return fits


class EmbeddingFit:
    """Cosine similarity of request and profile embeddings, divided by the best one.

    `fit_i = max(FLOOR, cos_i / max_j cos_j)`, or 1 for all when no similarity is positive.
    The profiles are embedded once; each decision embeds the request (one model call).
    """

    def __init__(self, agents: Sequence[Agent], embeddings: Embeddings) -> None:
        """Embed the team's profiles with `embeddings`."""
        texts = [f"{a.name}: {a.description} Skills: {', '.join(a.skills)}" for a in agents]
        self.embeddings = embeddings
        self.vectors = [_unit(v) for v in embeddings.embed_documents(texts)]

    def fit(self, request: str) -> list[float]:
        """The fit of every agent to `request`, in team order."""
        query = _unit(self.embeddings.embed_query(request))
        cosines = [sum(q * d for q, d in zip(query, v, strict=True)) for v in self.vectors]
        best = max(cosines, default=0.0)
        if best <= 0:
            return [1.0] * len(cosines)
        return [max(FLOOR, c / best) for c in cosines]


class CallableFit:
    """Any function `(request, agents) -> scores`, e.g. an LLM judge; clamped into (0, 1].

    Scores are divided by the best one (as `LexicalFit` does) and floored at `FLOOR`.
    """

    def __init__(
        self, agents: Sequence[Agent], score: Callable[[str, Sequence[Agent]], Sequence[float]]
    ) -> None:
        """Keep the team and the scoring function."""
        self.agents = tuple(agents)
        self.score = score

    def fit(self, request: str) -> list[float]:
        """The fit of every agent to `request`, in team order."""
        raw = list(self.score(request, self.agents))
        if len(raw) != len(self.agents):
            raise AgentSpecError(
                f"the fit function returned {len(raw)} scores for {len(self.agents)} agents; "
                "return one score per agent, in team order"
            )
        best = max(raw, default=0.0)
        if best <= 0:
            return [1.0] * len(raw)
        return [max(FLOOR, min(1.0, value / best)) for value in raw]


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]
