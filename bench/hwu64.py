"""HWU64 for the routing benches: where the data is, the team built from `hwu64_team`, its
example requests drawn from the training fold (picked by `pick_examples`, or the medoids of
clusters), and the embeddings kept between runs."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hwu64_team import TEAM
from langchain_core.embeddings import Embeddings

from accord.agents import Agent
from accord.agents.routing import MiniLM, MPNet, pick_examples

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "accord" / "bench"
"""Where the benches keep what is slow to compute (outside the repository)."""
ROOT = Path(__file__).resolve().parents[1]
ENCODERS = {"minilm": MiniLM.shared, "mpnet": MPNet.shared}
"""The embedded sentence encoders by name (`--encoder`)."""


def embedded(encoder: str) -> Path:
    """Where every HWU64 text's embedding by `encoder` is kept between runs (delete it to
    embed again)."""
    return CACHE / f"hwu64-{encoder}.npz"


EMBEDDED = embedded("minilm")
Item = dict[str, str]


def data_dir(given: str | None) -> Path:
    """The HWU64 folder: --data, or shared/ beside the repository (or beside its parent)."""
    candidates = [Path(given)] if given else []
    candidates += [p / "shared/benchmarks/hwu64" for p in (ROOT.parent, ROOT.parent.parent)]
    for path in candidates:
        if (path / "test.jsonl").is_file():
            return path
    raise SystemExit(f"HWU64 not found in {', '.join(map(str, candidates))}; pass --data")


def read(path: Path) -> list[Item]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def team(examples: dict[str, list[str]] | None, left_out: Sequence[str] = ()) -> list[Agent]:
    """The agents, with their example requests (None: none), less the `left_out` scenarios."""
    return [
        Agent(
            name=name,
            description=description,
            skills=skills,
            examples=(examples or {}).get(name, []),
        )
        for name, (description, skills) in TEAM.items()
        if name not in left_out
    ]


def representative(train: list[Item], cached: Cached, count: int = 5) -> dict[str, list[str]]:
    """`count` training requests per scenario that stand for the rest: the medoids of `count`
    clusters (k-means on their embeddings), so five examples cover five ways of asking."""
    chosen: dict[str, list[str]] = {}
    for name in TEAM:
        texts = sorted({i["text"] for i in train if i["scenario"] == name})
        cached.warm(texts)
        x = np.array([cached.known[t] for t in texts])
        centres = x[np.random.default_rng(0).choice(len(x), count, replace=False)]
        for _ in range(15):
            nearest = (x @ centres.T).argmax(axis=1)
            centres = np.stack(
                [
                    x[nearest == j].mean(axis=0) if (nearest == j).any() else centres[j]
                    for j in range(count)
                ]
            )
        chosen[name] = [texts[int((x @ centres[j]).argmax())] for j in range(count)]
    return chosen


EXAMPLES = ("picked", "medoids")
"""How the benches choose 5 example requests per agent from the training fold (`--examples`):
`pick_examples` (those that route the other training requests best), or `representative`."""


class Shots:
    """The example requests of the team less `left_out`, chosen once per team: picked ones
    are chosen among the team's own scenarios only (a left-out scenario's requests are never
    seen, neither as examples nor as requests to route), medoids per agent alike."""

    def __init__(self, train: list[Item], cached: Cached, how: str = "picked") -> None:
        self.train, self.cached, self.how = train, cached, how
        self.known: dict[tuple[str, ...], dict[str, list[str]]] = {}

    def __call__(self, left_out: Sequence[str] = ()) -> dict[str, list[str]]:
        key = tuple(sorted(left_out))
        if key not in self.known:
            if self.how == "medoids":
                self.known[key] = representative(self.train, self.cached)
            else:
                pairs = [(i["text"], i["scenario"]) for i in self.train]
                self.known[key] = pick_examples(team(None, key), pairs, self.cached)
        return self.known[key]


class Cached(Embeddings):
    """The embedded model with every text embedded once (batched) for the quality figures,
    kept in `path` (outside the repository) when given, so a rerun embeds nothing again."""

    def __init__(self, model: MiniLM | MPNet, path: Path | None = None) -> None:
        self.model = model
        self.path = path
        self.known: dict[str, list[float]] = {}
        if path is not None and path.is_file():
            with np.load(path) as stored:
                pairs = zip(stored["texts"].tolist(), stored["vectors"].tolist(), strict=True)
                self.known = dict(pairs)

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            texts = list(self.known)
            vectors = np.array([self.known[t] for t in texts], dtype=np.float32)
            np.savez(self.path, texts=np.array(texts), vectors=vectors)

    def warm(self, texts: Sequence[str]) -> None:
        missing = sorted({t for t in texts if t not in self.known})
        for text, vector in zip(missing, self.model.encode(missing).tolist(), strict=True):
            self.known[text] = vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.warm(texts)
        return [self.known[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.warm([text])
        return self.known[text]
