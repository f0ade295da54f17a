"""Calibrations and thresholds for bench/routing_quality.py, fitted on HWU64's training fold.

`calibrate` fits each fit's confidence (`--calibrate`): a logistic fit of "the chosen agent is
right" on similarity and margin, with 3 scenarios left out of the team in turn; the head's
weighs the margin by the ratio that rejects the most left-out requests (`scope_ratio`).
`choose_threshold` sets the "no agent fits" threshold that loses 2% of in-scope accuracy.
"""

from __future__ import annotations

import random

import numpy as np
from hwu64 import Item, Shots, team
from hwu64_team import TEAM

from accord.agents import Router
from accord.agents.routing import Calibration
from accord.agents.routing.fit import FitFactory


def features(router: Router, items: list[Item]) -> list[tuple[float, float, bool]]:
    """(similarity, margin over the next best, the chosen agent is right) per item."""
    out = []
    for item in items:
        decision = router.decide(item["text"])
        assert decision.match is not None
        sim = decision.match.similarity
        mine = sim[decision.index]
        margin = mine - max(s for i, s in enumerate(sim) if i != decision.index)
        out.append((mine, margin, decision.agent == item["scenario"]))
    return out


def platt(points: list[tuple[float, float, bool]], ratio: float | None = None) -> Calibration:
    """Logistic fit of rightness on similarity and margin (Newton's method); with `ratio`, on
    `similarity + ratio x margin` alone (the margin's weight is then `ratio` x the similarity's)."""
    x = np.array([[1.0, p[0], p[1]] for p in points])
    if ratio is not None:
        x = np.stack([x[:, 0], x[:, 1] + ratio * x[:, 2]], axis=1)
    y = np.array([float(p[2]) for p in points])
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(len(w))
        w = w - np.linalg.solve(hessian, gradient)
    margin = float(w[1]) * ratio if ratio is not None else float(w[2])
    return Calibration(
        similarity=round(float(w[1]), 2), margin=round(margin, 2), bias=round(float(w[0]), 2)
    )


MARGIN_RATIOS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0)
"""The margin's weight against the similarity's tried for the head's calibration."""


def calibrate(train: list[Item], fits: dict[str, FitFactory], shots: Shots) -> None:
    """Fits each fit's calibration on training requests, with 3 scenarios left out in turn.

    The head's job is "no agent fits", so its calibration weighs the margin against the
    similarity by the ratio that rejects the most left-out requests (`scope_ratio`); the
    others' ratio is the logistic fit's own (the margin says which of two agents, the
    cascade's question)."""
    rng = random.Random(3)
    sample = rng.sample(train, 3000)
    names = sorted(TEAM)
    for name, fit in fits.items():
        points = []
        for start in range(0, 18, 3):
            left = names[start : start + 3]
            router = Router(team(shots(left), left), strategy="specialization", fit=fit)
            pool = [i for i in sample if i["text"] not in used_examples(router)]
            points += features(router, pool[:500])
        ratio = scope_ratio(train, fit, shots) if name == "embedding + head" else None
        print(f"{name}: {platt(points, ratio)}")


def scope_ratio(train: list[Item], fit: FitFactory, shots: Shots) -> float:
    """The margin's weight against the similarity (of `MARGIN_RATIOS`) whose sum rejects the
    most requests of 3 left-out scenarios at 2 points of in-scope accuracy: every training
    request that is no example, each 3 scenarios left out in turn, 0 and 5 examples."""
    names = sorted(TEAM)
    rejected = np.zeros(len(MARGIN_RATIOS))
    for examples in (None, shots):
        for start in range(0, 18, 3):
            left = names[start : start + 3]
            chosen = examples(left) if examples else None
            router = Router(team(chosen, left), strategy="specialization", fit=fit)
            used = used_examples(router)
            pool = [i for i in train if i["text"] not in used]
            similarity, margin, right = (
                np.array(c) for c in zip(*features(router, pool), strict=True)
            )
            inside = np.array([i["scenario"] not in left for i in pool])
            for k, ratio in enumerate(MARGIN_RATIOS):
                score = similarity + ratio * margin
                threshold = choose_threshold(list(zip(score[inside], right[inside], strict=True)))
                rejected[k] += float(np.mean(score[~inside] < threshold)) / 12
    shares = ", ".join(
        f"{r:g}: {share:.1%}" for r, share in zip(MARGIN_RATIOS, rejected, strict=True)
    )
    print(f"left-out training requests rejected at 2 points, by margin ratio: {shares}")
    return MARGIN_RATIOS[int(rejected.argmax())]


def used_examples(router: Router) -> set[str]:
    return {e for a in router.agents for e in a.examples}


def choose_threshold(points: list[tuple[float, bool]], budget: float = 0.02) -> float:
    """The highest threshold that loses at most `budget` of in-scope accuracy (on train: only
    in-scope requests, so the choice knows nothing of what is left out)."""
    right = sorted(c for c, ok in points if ok)
    if not right:
        return 0.0
    return right[int(budget * len(points))]
