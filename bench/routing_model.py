"""The model router on HWU64: what `routed(agents)` asks the embedded model, on a sample.

A stratified sample of the test fold (each scenario in its share, a fixed seed) is routed by
`ModelRouter` on the embedded default model, one request at a time. Every answer is kept in a
cache outside the repository (`~/.cache/accord/bench/`, keyed by the model, the team and the
request), so a rerun of `bench/routing_quality.py` reads them back instead of spending the CPU
again; the cascade (embedding first, the model only when unsure) is then computed from them.

Run alone to fill the cache (slow: seconds per request on the 1.5B model):
`.venv/bin/python bench/routing_model.py [--size 200] [--model local]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hwu64 import CACHE, data_dir, read
from hwu64_team import TEAM

from accord.agents import Agent, Router

Item = dict[str, str]


def stratified(items: list[Item], size: int, seed: int = 13) -> list[Item]:
    """`size` items, each scenario in proportion to its share (largest remainders), the
    scenarios interleaved so that any prefix (a run cut short) is about as stratified."""
    by: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by[item["scenario"]].append(item)
    quota = {s: size * len(v) / len(items) for s, v in by.items()}
    counts = {s: int(q) for s, q in quota.items()}
    for s in sorted(quota, key=lambda s: counts[s] - quota[s])[: size - sum(counts.values())]:
        counts[s] += 1
    rng = random.Random(seed)
    picked = {s: rng.sample(by[s], counts[s]) for s in sorted(by)}
    ranked = [(k / counts[s], s, k) for s in picked for k in range(counts[s])]
    return [picked[s][k] for _, s, k in sorted(ranked)]


def model_team(model: str) -> list[Agent]:
    """The HWU64 team (no examples: the model router reads descriptions and skills)."""
    return [
        Agent(name=name, description=description, skills=skills, models=(model,))
        for name, (description, skills) in TEAM.items()
    ]


def cache_file(model: str) -> Path:
    """Where the answers of `model` on this team are kept (the team's hash in the name)."""
    digest = hashlib.sha256(json.dumps(TEAM, sort_keys=True).encode()).hexdigest()[:10]
    return CACHE / f"hwu64-model-router-{model.replace(':', '_')}-{digest}.jsonl"


def cached(model: str) -> dict[str, dict[str, Any]]:
    """The answers kept so far, by request text."""
    path = cache_file(model)
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["text"]: row for row in rows}


def fill(items: list[Item], model: str) -> dict[str, dict[str, Any]]:
    """Asks the model router about every item not yet in the cache, appending as it goes."""
    from accord.graphs.patterns.routed import ModelRouter

    known = cached(model)
    todo = [i for i in items if i["text"] not in known]
    if not todo:
        return known
    router = ModelRouter(model_team(model))
    path = cache_file(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    for n, item in enumerate(todo, 1):
        start = time.perf_counter()
        row: dict[str, Any] = {"text": item["text"], "gold": item["scenario"]}
        try:
            route = router.invoke(item["text"])
            row |= {"agent": route["agent"], "reason": route["reason"]}
        except Exception as exc:  # a failed decision is a figure too (counted wrong)
            row |= {"agent": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
        row |= {"wall_s": round(time.perf_counter() - start, 2), "load": os.getloadavg()[0]}
        known[item["text"]] = row
        with path.open("a") as out:
            out.write(json.dumps(row) + "\n")
        print(f"{n}/{len(todo)} {row['gold']} -> {row['agent']} ({row['wall_s']} s)", flush=True)
    return known


def cascade(
    sample: list[Item], answers: dict[str, dict[str, Any]], router: Router, tune: list[Item]
) -> None:
    """The model router on the answered part of `sample`, and the cascade: `router` decides,
    the model only when its confidence is below a level chosen on the training requests
    `tune` (the level at which it would ask about 15% of them: under a fifth)."""
    done = [i for i in sample if i["text"] in answers]
    print(f"\n## Model router and cascade ({len(done)} of {len(sample)} test requests, stratified)")
    if not done:
        print(f"no model answers cached yet: fill them with .venv/bin/python {__file__}")
        return
    gold = [i["scenario"] for i in done]
    model = [answers[i["text"]]["agent"] for i in done]
    wall = sorted(answers[i["text"]]["wall_s"] for i in done)
    median = wall[len(wall) // 2]
    failed = sum(answers[i["text"]].get("error") is not None for i in done)
    decisions = [router.decide(i["text"]) for i in done]
    known = [router.decide(i["text"]).confidence or 0.0 for i in tune]
    print("| router | accuracy | model calls | model wall per request (median call x share) |")
    print("|---|---|---|---|")
    print(
        f"| model ({len(done)} asked, {failed} failed) | {_acc(gold, model):.3f} | {len(done)}"
        f" | {median:.1f} s |"
    )
    print(f"| embedding, 5 examples | {_acc(gold, [d.agent for d in decisions]):.3f} | 0 | - |")
    for share in (0.10, 0.15, 0.20, 0.30):
        level = sorted(known)[int(share * len(known))]
        asked = [(d.confidence or 0.0) < level for d in decisions]
        said = [m if a else d.agent for m, a, d in zip(model, asked, decisions, strict=True)]
        cost = median * sum(asked) / len(done)
        print(
            f"| cascade below {level:.2f} (asks {share:.0%} of train) | {_acc(gold, said):.3f} |"
            f" {sum(asked)} ({sum(asked) / len(done):.0%}) | {cost:.1f} s |"
        )


def _acc(gold: list[str], said: list[str | None]) -> float:
    return sum(g == s for g, s in zip(gold, said, strict=True)) / len(gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the HWU64 folder")
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--model", default="local")
    args = parser.parse_args()
    test = read(data_dir(args.data) / "test.jsonl")
    sample = stratified(test, args.size)
    answers = fill(sample, args.model)
    right = sum(answers[i["text"]]["agent"] == i["scenario"] for i in sample)
    print(f"model router ({args.model}): {right}/{len(sample)} right")
    print(f"answers kept in {cache_file(args.model)}")


if __name__ == "__main__":
    main()
