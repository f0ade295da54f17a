"""The model router on HWU64: what `routed(agents)` asks the embedded model, on a sample.

A stratified sample of the test fold (each scenario in its share, a fixed seed) is routed by
`ModelRouter` on the embedded default model, one request at a time. Every answer is kept in a
cache outside the repository (`~/.cache/accord/bench/`, keyed by the model, the team and the
request), so a rerun of `bench/routing_quality.py` reads them back instead of spending the CPU
again; the cascade (embedding first, the model only when unsure) is then computed from them.

The model sees a shortlist: the embedding fit (5 examples per agent, from the training fold)
ranks the team and the model chooses among the best `--top` (3), each shown with a few of its
examples (`ModelRouter(shortlist=...)`); `--top 0` shows it the whole roster, as before.
The model is asked about every request (`within=0`), those whose fit is unclear (the ones a
shortlisting router asks about by default) first, so a run cut short still gives that figure.

Run alone to fill the cache (slow: seconds per request on the 1.5B model):
`.venv/bin/python bench/routing_model.py [--size 200] [--model local] [--top 3]`;
`--train N` asks about N training requests whose fit is unclear instead (to try a prompt
without touching test). `--logprobs` asks for the agent's name in one token and keeps the
model's and the fit's distributions (`ModelRouter(weight=...)`; with `--train N`, N training
requests of any fit, stratified, to choose the model's share; `bench/routing_logprobs.py`).
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
from hwu64 import CACHE, EMBEDDED, Cached, data_dir, read, representative
from hwu64_team import TEAM
from langchain_core.embeddings import Embeddings

from accord.agents import Agent, Router
from accord.agents.routing import EmbeddingFit, MiniLM

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


def model_team(model: str, shots: dict[str, list[str]] | None = None) -> list[Agent]:
    """The HWU64 team on `model`, with its example requests (None: none)."""
    return [
        Agent(
            name=name,
            description=description,
            skills=skills,
            examples=(shots or {}).get(name, []),
            models=(model,),
        )
        for name, (description, skills) in TEAM.items()
    ]


def cache_file(
    model: str, top: int, shots: dict[str, list[str]] | None, logprobs: bool = False
) -> Path:
    """Where the answers of `model` on this team are kept (the team's hash in the name);
    `logprobs`: asked for the agent's name in one token, with the model's and the fit's
    distributions."""
    setup = json.dumps([TEAM, shots if top else None, top], sort_keys=True)
    digest = hashlib.sha256(setup.encode()).hexdigest()[:10]
    kind = (f"top{top}" if top else "all") + ("-logprobs" if logprobs else "")
    return CACHE / f"hwu64-model-router-{model.replace(':', '_')}-{kind}-{digest}.jsonl"


def cached(
    model: str, top: int = 0, shots: dict[str, list[str]] | None = None, logprobs: bool = False
) -> dict[str, dict[str, Any]]:
    """The answers kept so far, by request text."""
    path = cache_file(model, top, shots, logprobs)
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["text"]: row for row in rows}


def ranker(agents: list[Agent], embedded: Embeddings) -> Router:
    """The embedding fit that shortlists (and, in the cascade, decides first)."""
    return Router(agents, strategy="specialization", fit=lambda a: EmbeddingFit(a, embedded))


def unclear(router: Router, text: str) -> bool:
    """Whether a shortlisting model router (default `within`) would ask its model."""
    from accord.graphs.patterns.routed import _clear
    from accord.graphs.patterns.routes import WITHIN

    return not _clear(router.decide(text), WITHIN)


def fill(
    items: list[Item],
    model: str,
    top: int,
    shots: dict[str, list[str]],
    embedded: Cached,
    logprobs: bool = False,
) -> dict[str, dict[str, Any]]:
    """Asks the model router about every item not yet in the cache, appending as it goes;
    `logprobs`: by the first token's log-probabilities, keeping both distributions (the
    model's share 1, so the agent kept is the model's own; `weighed` combines them later)."""
    from accord.graphs.patterns.routed import ModelRouter

    known = cached(model, top, shots, logprobs)
    todo = [i for i in items if i["text"] not in known]
    if not todo:
        return known
    agents = model_team(model, shots if top else None)
    ranks = ranker(agents, embedded)
    # Always asked (within=0), so the cache holds the model's choice on every request; the
    # requests a shortlisting router would ask about (unclear fit) are asked first.
    router = ModelRouter(
        agents,
        shortlist=ranks if top else None,
        top=max(1, top),
        within=0.0,
        weight=1.0 if logprobs else None,
    )
    todo.sort(key=lambda i: not unclear(ranks, i["text"]))
    path = cache_file(model, top, shots, logprobs)
    path.parent.mkdir(parents=True, exist_ok=True)
    for n, item in enumerate(todo, 1):
        start = time.perf_counter()
        row: dict[str, Any] = {"text": item["text"], "gold": item["scenario"]}
        try:
            route = router.invoke(item["text"])
            row |= {"agent": route["agent"], "reason": route["reason"]}
            row |= {"shortlist": route.get("shortlist", [])}
            if "distributions" in route:
                row |= {k: route["distributions"][k] for k in ("fit", "model")}
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
    """The model router on the answered part of `sample` (the model shown the embedding fit's
    best 3), the shortlisting model router (the model asked only when the fit is unclear:
    `ModelRouter(within=WITHIN)`), and the cascade (`routed(cascade=level)`: the embedding
    decides, the model among its best 3 when the confidence is below a level chosen on the
    training requests `tune`), each against the embedding fit on the same requests."""
    done = [i for i in sample if i["text"] in answers]
    print(f"\n## Model router and cascade ({len(done)} of {len(sample)} test requests, stratified)")
    if not done:
        print(f"no model answers cached yet: fill them with .venv/bin/python {__file__}")
        return
    decisions = {i["text"]: router.decide(i["text"]) for i in sample}
    wall = sorted(answers[i["text"]]["wall_s"] for i in done)
    median = wall[len(wall) // 2]
    failed = sum(answers[i["text"]].get("error") is not None for i in done)
    print("| router | requests | accuracy | embedding fit, same requests | model calls | call |")
    print("|---|---|---|---|---|---|")

    def row(name: str, items: list[Item], said: list[str | None], calls: int) -> None:
        gold = [i["scenario"] for i in items]
        fit = [decisions[i["text"]].agent for i in items]
        print(
            f"| {name} | {len(items)} | {_acc(gold, said):.3f} | {_acc(gold, fit):.3f} |"
            f" {calls} ({calls / len(items):.0%}) | {median:.1f} s |"
        )

    model = [answers[i["text"]]["agent"] for i in done]
    row(f"model, best 3 shown, always asked ({failed} failed)", done, model, len(done))

    def asking(name: str, asks: set[str]) -> None:
        """The model on the requests in `asks`, the embedding fit on the others; only
        requests whose answer is known count (all of them once the asked ones are cached)."""
        known = [i for i in sample if i["text"] not in asks or i["text"] in answers]
        said = [
            answers[i["text"]]["agent"] if i["text"] in asks else decisions[i["text"]].agent
            for i in known
        ]
        answered = sum(t in answers for t in asks)
        label = f"{name} ({answered} of {len(asks)} asked answered)"
        row(label, known, said, sum(i["text"] in asks for i in known))

    asking(
        "model, asked only when unclear", {i["text"] for i in sample if unclear(router, i["text"])}
    )
    levels = sorted(router.decide(i["text"]).confidence or 0.0 for i in tune)
    for share in (0.10, 0.15, 0.20, 0.30):
        level = levels[int(share * len(levels))]
        unsure = {t for t, d in decisions.items() if (d.confidence or 0.0) < level}
        asking(f"cascade below {level:.2f} (asks {share:.0%} of train)", unsure)


def _acc(gold: list[str], said: list[str | None]) -> float:
    return sum(g == s for g, s in zip(gold, said, strict=True)) / len(gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the HWU64 folder")
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--model", default="local")
    parser.add_argument("--top", type=int, default=3, help="shortlist size (0: whole roster)")
    parser.add_argument("--train", type=int, default=0, help="ask about N training requests")
    parser.add_argument("--logprobs", action="store_true", help="ask for one token's odds")
    args = parser.parse_args()
    folder = data_dir(args.data)
    train = read(folder / "train.jsonl")
    embedded = Cached(MiniLM.shared(), EMBEDDED)
    shots = representative(train, embedded)
    used = {e for examples in shots.values() for e in examples}
    if args.train and args.logprobs:  # to choose the model's weight: any request, like test
        pool = [i for i in train if i["text"] not in used]
        sample = stratified(pool, args.train, seed=7)
    elif args.train:
        pool = [i for i in train if i["text"] not in used]
        ranks = ranker(model_team(args.model, shots), embedded)
        pool = [i for i in random.Random(7).sample(pool, 300) if unclear(ranks, i["text"])]
        sample = pool[: args.train]
    else:
        sample = stratified(read(folder / "test.jsonl"), args.size)
    started, cpu = time.perf_counter(), time.process_time()
    answers = fill(sample, args.model, args.top, shots, embedded, args.logprobs)
    embedded.save()
    right = sum(answers[i["text"]]["agent"] == i["scenario"] for i in sample)
    print(f"model router ({args.model}, top {args.top}): {right}/{len(sample)} right")
    print(
        f"wall {time.perf_counter() - started:.0f} s, CPU (this process) "
        f"{time.process_time() - cpu:.0f} s; load average {os.getloadavg()[0]:.2f}"
    )
    print(f"answers kept in {cache_file(args.model, args.top, shots, args.logprobs)}")


if __name__ == "__main__":
    main()
