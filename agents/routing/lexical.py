"""The lexical fit: BM25 of a request against each agent's skills, examples and description.

Needs no model. Words are lower-cased, contractions lose their clitic ("what's" is "what",
"don't" is "do not"), stop words are left out unless a text is nothing else ("where are you
from" stays whole), and a light stemmer makes the forms of one word meet ("settings"/"set",
"cancelled"/"canceled", "speeding"/"speed").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from accord.agents.agent import Agent
from accord.agents.routing.fit import FLOOR, Calibration, Match

K1 = 1.2
B = 0.75
SKILL_WEIGHT = 2
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NOT = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "be"}
_VOWELS = frozenset("aeiouy")
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


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A light English stemmer: plurals, -ing, -ed and -ly, a trailing "e", a doubled letter.

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
    if not word.endswith("eed"):
        for suffix in ("ing", "ed", "ly"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
    if word.endswith("eed") and _has_vowel(word[:-3]):
        word = word[:-1]  # agreed -> agree, but speed stays speed (Porter's m > 0)
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _VOWELS:
        word = word[:-1]  # setting -> sett -> set, cancelled -> cancell -> cancel
    return word


def _has_vowel(text: str) -> bool:
    return any(c in _VOWELS for c in text[:-1]) and text[-1:] not in _VOWELS


def words(text: str) -> list[str]:
    """The lower-cased words of `text`, contractions resolved ("don't" -> "do", "not")."""
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("\u2019", "'")):
        if "'" not in word:
            out.append(word)
        elif word in _NOT:
            out += [_NOT[word], "not"]
        elif word.endswith("n't"):
            out += [word[:-3], "not"]
        else:
            out.append(word[: word.index("'")])  # 's, 're, 've, 'll, 'd, 'm
    return out


def terms(text: str) -> list[str]:
    """The stemmed words of `text`, stop words left out unless the text is only stop words."""
    found = words(text)
    kept = [w for w in found if w not in _STOP] or found
    return [stem(w) for w in kept]


def profile(agent: Agent) -> list[str]:
    """The words an agent is matched on: skills (weighted), examples, description and name.

    Each skill and example is stemmed on its own, so a skill of stop words keeps its words.
    """
    skills = [t for skill in agent.skills for t in terms(skill)]
    examples = [t for example in agent.examples for t in terms(example)]
    return [
        *skills * SKILL_WEIGHT,
        *examples,
        *terms(agent.description),
        *terms(agent.name.replace("_", " ")),
    ]


class LexicalFit:
    """BM25 of the request against each agent's profile, divided by the best agent's score.

    `fit_i = FLOOR + (1 - FLOOR) * bm25_i / max_j bm25_j`, or 1 for all when no word matches.
    The similarity is the share of the request's information (idf) the agent's profile holds,
    in [0, 1]; the confidence calibrates it. The index is built once per team: a decision only
    walks the postings of the request's words, so its cost grows with the agents that match.
    """

    calibration = Calibration(similarity=5.18, margin=3.67, bias=-1.45)
    """Fitted on HWU64's training fold (bench/routing_quality.py --calibrate)."""
    slow = False

    def __init__(self, agents: Sequence[Agent]) -> None:
        """Index the team's profiles."""
        docs = [Counter(profile(a)) for a in agents]
        self.size = len(docs)
        lengths = [sum(d.values()) for d in docs]
        average = (sum(lengths) / len(lengths)) if lengths else 1.0
        frequency = Counter(word for doc in docs for word in doc)
        postings: dict[str, list[tuple[int, float]]] = {}
        self.idf = {w: _idf(self.size, df) for w, df in frequency.items()}
        self.unseen_idf = _idf(self.size, 0)
        for index, (doc, length) in enumerate(zip(docs, lengths, strict=True)):
            norm = K1 * (1 - B + B * length / (average or 1.0))
            for word, tf in doc.items():
                idf = self.idf[word]
                postings.setdefault(word, []).append((index, idf * tf * (K1 + 1) / (tf + norm)))
        self.postings = {w: tuple(p) for w, p in postings.items()}

    def match(self, request: str) -> Match:
        """How every agent fits `request`, in team order."""
        raw: dict[int, float] = {}
        hits: dict[int, list[str]] = {}
        held: dict[int, float] = {}
        words = set(terms(request))
        total = sum(self.idf.get(w, self.unseen_idf) for w in words) or 1.0
        for word in sorted(words):
            for index, weight in self.postings.get(word, ()):
                raw[index] = raw.get(index, 0.0) + weight
                held[index] = held.get(index, 0.0) + self.idf[word]
                hits.setdefault(index, []).append(word)
        similarity = [0.0] * self.size
        for index, value in held.items():
            similarity[index] = value / total
        if not raw:
            return Match([1.0] * self.size, similarity, lambda i: "no word matched", self)
        top = max(raw.values())
        fits = [FLOOR] * self.size
        for index, value in raw.items():
            fits[index] = FLOOR + (1 - FLOOR) * (value / top)
        return Match(fits, similarity, lambda i: _words(hits.get(i)), self)

    def fit(self, request: str) -> list[float]:
        """The fit of every agent to `request`, in team order."""
        return self.match(request).fit


def _idf(size: int, df: int) -> float:
    return math.log(1 + (size - df + 0.5) / (df + 0.5))


def _words(found: list[str] | None) -> str:
    return "words " + ", ".join(repr(w) for w in found) if found else "no word matched"
