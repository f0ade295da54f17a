"""Picks each agent's example requests from labelled ones: those that route the rest best.

An embedding fit scores a request against each agent's texts (description, skills, examples),
so which few requests an agent shows as examples decides much of what it wins. Given requests
already labelled with their agent (logs of past routes, a training set), `pick_examples`
chooses `count` of them per agent greedily, one per agent per round: the request whose
addition best routes every labelled request, scored as `EmbeddingFit` scores (centred
vectors, the same soft maximum), each request's loss a softplus of its margin over the best
wrong agent (divided by `SOFTNESS`). The margin, not only right or wrong, makes examples that
pull an agent's requests closer to it and push the others' away, which also helps "no agent
fits": in-scope requests end closer to their agent.

On HWU64 (picked on one half of the training fold, measured on the other, three splits), five
picked examples per agent route 0.900-0.911 against 0.876-0.892 for the medoids of five
clusters of each agent's requests, and with the trained head (3 scenarios left out) reject
59-62% of the left-out requests at 2 points of in-scope accuracy, against 47-54%; on the test
fold (bench/routing_quality.py, picked on the whole training fold) 0.920 against 0.911.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from accord.agents.agent import Agent
from accord.agents.errors import AgentSpecError
from accord.agents.routing.fit import SHARPNESS, centred, embed_once, texts

SOFTNESS = 0.08
"""The margin (in similarity) that divides a request's loss by about e: tuned on HWU64's
training fold (picked on one half, measured on the other; 0 (right or wrong) to 0.15 tried):
0.08 routed best and rejected the most left-out requests at 2 points of in-scope accuracy."""

Matrix = np.ndarray[Any, np.dtype[np.float32]]


def pick_examples(
    agents: Sequence[Agent],
    labelled: Sequence[tuple[str, str]],
    embeddings: Embeddings,
    *,
    count: int = 5,
    sharpness: float = SHARPNESS,
    softness: float = SOFTNESS,
) -> dict[str, list[str]]:
    """`count` example requests per agent, taken from `labelled` (request, agent name) pairs.

    Requests labelled with an agent that is not in the team are ignored (they neither become
    examples nor count in the loss). An agent's own texts stay; the picked requests come in
    addition (`agent.model_copy(update={"examples": [*agent.examples, *picked[agent.name]]})`).
    An agent with fewer labelled requests than `count` gets all of them.

    Raises:
        AgentSpecError: `count` below 1, or `sharpness` or `softness` not positive.
    """
    if count < 1 or not sharpness > 0 or not softness > 0:
        raise AgentSpecError(
            f"count={count}, sharpness={sharpness}, softness={softness}: give count >= 1 and a"
            " positive sharpness and softness"
        )
    names = [agent.name for agent in agents]
    index = {name: i for i, name in enumerate(names)}
    pairs = sorted({(text, index[name]) for text, name in labelled if name in index and text})
    picked: dict[str, list[str]] = {name: [] for name in names}
    if not pairs:
        return picked
    own = [(text, i) for i, agent in enumerate(agents) for text in texts(agent)]
    base = embed_once(embeddings, [text for text, _ in own])
    requests = embed_once(embeddings, [text for text, _ in pairs])
    # The fit centres on its team's texts: its own and, once picked, `count` requests each.
    share = count * len(names) / (count * len(names) + len(base))
    centre = (1 - share) * base.mean(axis=0) + share * requests.mean(axis=0)
    x = centred(requests, centre)
    gold = np.array([i for _, i in pairs])
    owners = np.array([i for _, i in own])
    # Per request and agent: the sum of exp(cosine / sharpness) over the agent's texts.
    kernel = np.exp((x @ centred(base, centre).T) / sharpness)
    total = np.stack([kernel[:, owners == i].sum(axis=1) for i in range(len(names))], axis=1)
    for _ in range(count):
        for i, name in enumerate(names):
            taken = set(picked[name])
            mine = np.flatnonzero(gold == i)
            candidates = np.array([k for k in mine if pairs[k][0] not in taken], dtype=np.int64)
            if not len(candidates):
                continue
            with_each = total[:, [i]] + np.exp((x @ x[candidates].T) / sharpness)
            score = sharpness * np.log(total)
            loss = _losses(score, gold, i, sharpness * np.log(with_each), softness)
            # A candidate's own request says nothing of how it generalises.
            loss[candidates, np.arange(len(candidates))] = 0.0
            k = int(candidates[int(np.argmin(loss.sum(axis=0)))])
            picked[name].append(pairs[k][0])
            total[:, i] += np.exp((x @ x[k]) / sharpness)
    return picked


def _losses(
    score: Matrix, gold: np.ndarray[Any, Any], agent: int, new: Matrix, softness: float
) -> Matrix:
    """Each request's loss (rows) with each candidate added to `agent` (columns, whose scores
    for `agent` are `new`): a softplus of minus its margin over the best wrong agent."""
    rows = np.arange(len(score))
    right = score[rows, gold]
    others = score.copy()
    others[:, agent] = -np.inf
    best_other = others.max(axis=1)  # for `agent`'s own requests
    others[rows, gold] = -np.inf
    rival = others.max(axis=1)  # for the others: the best wrong agent but `agent`
    mine = (gold == agent)[:, None]
    margin = np.where(
        mine, new - best_other[:, None], right[:, None] - np.maximum(rival[:, None], new)
    )
    loss: Matrix = np.logaddexp(0.0, -margin / softness).astype(np.float32)
    return loss
