"""The model router by log-probabilities on HWU64: the model's odds, the fit's, and both.

`bench/routing_model.py --logprobs` asks the embedded model, one request at a time, for the
name of the agent among the embedding fit's best 3 in one token, and keeps the model's and the
fit's distributions over them (`ModelRouter(weight=...)`; `--train 100` on training requests,
then the 200 stratified test ones). This reads that cache, with no model call: the model's
share in the product of experts is chosen on the training requests only, then the test figures
are printed: the embedding fit alone, the model alone (its likeliest agent), both combined
(asked about every request, and only when the fit is unclear, `ModelRouter`'s default).

Run: `.venv/bin/python bench/routing_logprobs.py [--model local]` (after filling the cache).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hwu64 import EMBEDDED, Cached, data_dir, read, representative
from routing_model import Item, cached, model_team, ranker, stratified, unclear

from accord.agents import Router, percentile
from accord.agents.routing import MiniLM
from accord.graphs.patterns.logprobs import FLOOR, combined
from accord.graphs.patterns.routes import WITHIN

WEIGHTS = [k / 20 for k in range(21)]


def choose(row: dict[str, Any], weight: float) -> str:
    """The agent the combination picks for a cached answer."""
    both = combined(row["fit"], row["model"], weight)
    return str(row["shortlist"][max(range(len(both)), key=both.__getitem__)])


def tuned(tune: list[Item], answers: dict[str, dict[str, Any]]) -> float:
    """The model's share that routes the training requests `tune` best (ties: the lower
    log-loss of the right agent where it was shortlisted)."""

    def score(weight: float) -> tuple[int, float]:
        right, loss = 0, 0.0
        for item in tune:
            row = answers[item["text"]]
            right += choose(row, weight) == item["scenario"]
            if item["scenario"] in row["shortlist"]:
                both = combined(row["fit"], row["model"], weight)
                loss -= math.log(max(FLOOR, both[row["shortlist"].index(item["scenario"])]))
        return right, -loss

    scores = {w: score(w) for w in WEIGHTS}
    print("| model's share (train) | " + " | ".join(f"{w:g}" for w in WEIGHTS[::2]) + " |")
    print("|---|" + "---|" * len(WEIGHTS[::2]))
    print(f"| right of {len(tune)} | " + " | ".join(str(scores[w][0]) for w in WEIGHTS[::2]) + " |")
    return max(WEIGHTS, key=scores.__getitem__)


def weighed(
    sample: list[Item], answers: dict[str, dict[str, Any]], router: Router, tune: list[Item]
) -> None:
    """The test figures on the answered part of `sample`, the share chosen on `tune`."""
    done = [i for i in sample if i["text"] in answers and "model" in answers[i["text"]]]
    tune = [i for i in tune if i["text"] in answers and "model" in answers[i["text"]]]
    print(f"\n## Model router by log-probabilities ({len(done)} of {len(sample)} test requests)")
    if not done or not tune:
        print("no answers cached yet: bench/routing_model.py --logprobs [--train 100]")
        return
    weight = tuned(tune, answers)
    wall = [answers[i["text"]]["wall_s"] for i in done]
    fit = {i["text"]: router.decide(i["text"]).agent for i in done}
    asks = {i["text"] for i in done if unclear(router, i["text"])}

    def row(name: str, said: dict[str, str], calls: int) -> None:
        right = sum(said[i["text"]] == i["scenario"] for i in done)
        print(f"| {name} | {right / len(done):.3f} | {calls} ({calls / len(done):.0%}) |")

    print(f"\nthe model's share chosen on {len(tune)} training requests: {weight:g}")
    print(
        f"seconds per decision (asked): p50 {percentile(wall, 50):.1f}, "
        f"p99 {percentile(wall, 99):.1f}"
    )
    print("\n| router | accuracy | model calls |\n|---|---|---|")
    row("embedding fit alone", fit, 0)
    row(
        "model alone (its likeliest of the best 3)",
        {t: choose(answers[t], 1.0) for t in fit},
        len(done),
    )
    both = {t: choose(answers[t], weight) for t in fit}
    row(f"both, model's share {weight:g}, always asked", both, len(done))
    unsure = {t: both[t] if t in asks else fit[t] for t in fit}
    row(f"both, asked only when the fit is unclear (within {WITHIN:g})", unsure, len(asks))
    shortlisted = sum(i["scenario"] in answers[i["text"]]["shortlist"] for i in done)
    print(f"\nthe right agent was among the best 3 for {shortlisted} of {len(done)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the HWU64 folder")
    parser.add_argument("--model", default="local")
    args = parser.parse_args()
    folder = data_dir(args.data)
    train = read(folder / "train.jsonl")
    embedded = Cached(MiniLM.shared(), EMBEDDED)
    shots = representative(train, embedded)
    answers = cached(args.model, 3, shots, logprobs=True)
    router = ranker(model_team(args.model, shots), embedded)
    weighed(stratified(read(folder / "test.jsonl"), 200), answers, router, train)


if __name__ == "__main__":
    main()
