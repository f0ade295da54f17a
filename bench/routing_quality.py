"""Routing quality on a public intent benchmark (HWU64): does the router pick the right agent?

One agent per scenario (18), each described as a user would (a sentence, its intents as skills,
in words: `bench/hwu64_team.py`), optionally with 5 example requests drawn from the training
fold: those that route its other requests best (`pick_examples`, among the team's scenarios
only), or with `--examples medoids` the medoids of 5 clusters of each agent's requests.
Tuning (calibration, threshold) uses the training fold only; figures are on the test fold.

- accuracy and macro-F1 per fit (lexical BM25, embedding, embedding with a trained head,
  hybrid) and strategy, idle and under load (the right agent 1 of its 8 slots busy), and
  `predictive` replaying the test requests at several arrival rates with each request keeping
  its agent busy for 30 s;
- 0 and 5 examples per agent;
- out of scope: 3 scenarios left out of the team, their requests must be rejected (confidence
  below the threshold), at the cost in in-scope accuracy; and, to compare confidences at one
  cost, the share rejected by the threshold that loses exactly 2 points on test;
- the model router (`ModelRouter` on the embedded default, shown the embedding fit's best 3
  agents with their examples) on a stratified sample of 200 test requests, read from the
  cache `bench/routing_model.py` fills: always asked, asked only when the fit is unclear (its
  default), and the cascade (the embedding fit decides, the model only when unsure):
  accuracy and model calls, each against the embedding fit on the same requests; then the
  model router by log-probabilities (`bench/routing_logprobs.py`, from `--logprobs` answers);
- decision latency p50/p99 over 20 agents with the request already embedded, and the
  embedding alone, on one core.

Run: `.venv/bin/python bench/routing_quality.py` (needs `pip install 'accord[embeddings]'`;
the model router's answers come from `.venv/bin/python bench/routing_model.py`, run once);
`--calibrate` fits the confidence calibrations on the training fold and prints them.
"""

from __future__ import annotations

import os

# One core for the latency figures (set before numpy loads its BLAS).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import encoder_cascade
from hwu64 import EMBEDDED, ENCODERS, EXAMPLES, Cached, Item, Shots, data_dir, embedded, read, team
from hwu64_team import LEFT_OUT, TEAM
from routing_calibration import calibrate, choose_threshold, used_examples
from routing_logprobs import weighed
from routing_model import cached as model_answers
from routing_model import cascade, stratified

from accord.agents import Agent, Router
from accord.agents.routing import (
    ArrivalForecast,
    EmbeddingFit,
    HybridFit,
    LexicalFit,
    LoadCounter,
    MiniLM,
    MPNet,
)
from accord.agents.routing.fit import HEAD, FitFactory


def macro_f1(gold: list[str], said: list[str], labels: Sequence[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(g == s == label for g, s in zip(gold, said, strict=True))
        fp = sum(s == label != g for g, s in zip(gold, said, strict=True))
        fn = sum(g == label != s for g, s in zip(gold, said, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def route(router: Router, items: list[Item], busy_right: bool = False) -> list[str]:
    """The agent chosen for each item; with `busy_right`, its right agent has 1 slot busy."""
    said = []
    for item in items:
        with ExitStack() as stack:
            if busy_right and item["scenario"] in router.names:
                stack.enter_context(router.load.running(item["scenario"]))
            said.append(router.decide(item["text"]).agent)
    return said


def replay(agents: list[Agent], fit: FitFactory, items: list[Item], per_min: float) -> list[str]:
    """`predictive` on the test requests arriving at `per_min`, each busy 30 s on its agent."""
    rng = random.Random(5)
    order = rng.sample(items, len(items))
    now = [0.0]
    load = LoadCounter()
    forecast = ArrivalForecast(bucket_s=60.0, seasons=(60, 1440), step_s=30.0)
    router = Router(
        agents, strategy="predictive", fit=fit, load=load, forecast=forecast, clock=lambda: now[0]
    )
    ends: list[tuple[float, ExitStack]] = []
    said: dict[int, str] = {}
    for _ in range(2):  # the first pass teaches the forecast; the second is measured
        for item in order:
            now[0] += rng.expovariate(per_min / 60.0)
            for end, stack in [e for e in ends if e[0] <= now[0]]:
                stack.close()
                ends.remove((end, stack))
            agent = router.decide(item["text"]).agent
            stack = ExitStack()
            stack.enter_context(load.running(agent))
            ends.append((now[0] + 30.0, stack))
            said[id(item)] = agent
    for _, stack in ends:
        stack.close()
    return [said[id(item)] for item in items]


def fits(cached: Cached) -> dict[str, FitFactory]:
    # The encoder's own calibrations (the fits find none on the `Cached` wrapper).
    known = cached.model.calibrations
    return {
        "lexical": LexicalFit,
        "embedding": lambda a: EmbeddingFit(a, cached, calibration=known.get("embedding")),
        "embedding + head": lambda a: EmbeddingFit(
            a, cached, head=HEAD, calibration=known.get("embedding+head")
        ),
        "hybrid": lambda a: HybridFit(a, cached, calibration=known.get("hybrid")),
    }


def quality(test: list[Item], cached: Cached, shots: dict[str, list[str]], quick: bool) -> None:
    labels = sorted(TEAM)
    gold = [i["scenario"] for i in test]
    print(f"\n## Accuracy / macro-F1 on the test fold ({len(test)} requests, {len(labels)} agents)")
    print(
        "| fit | examples | specialization | score idle | score, right agent 1/8 busy |"
        " predictive 1 / 6 / 30 per min |"
    )
    print("|---|---|---|---|---|---|")
    for examples in (0, 5):
        agents = team(shots if examples else None)
        for name, fit in fits(cached).items():
            cells = []
            for strategy, busy in (("specialization", False), ("score", False), ("score", True)):
                router = Router(agents, strategy=strategy, fit=fit, load=LoadCounter())
                said = route(router, test, busy)
                acc = sum(g == s for g, s in zip(gold, said, strict=True)) / len(gold)
                cells.append(f"{acc:.3f} / {macro_f1(gold, said, labels):.3f}")
            rates = (6,) if quick else (1, 6, 30)
            accs = []
            for rate in rates:
                said = replay(agents, fit, test, rate)
                accs.append(sum(g == s for g, s in zip(gold, said, strict=True)) / len(gold))
            cells.append(" / ".join(f"{a:.3f}" for a in accs))
            print(f"| {name} | {examples} | " + " | ".join(cells) + " |")


def confidences(router: Router, items: list[Item]) -> list[tuple[float, bool]]:
    """(confidence, the chosen agent is right) per item; out-of-scope items are never right."""
    out = []
    for item in items:
        decision = router.decide(item["text"])
        assert decision.confidence is not None
        out.append((decision.confidence, decision.agent == item["scenario"]))
    return out


def out_of_scope(train: list[Item], test: list[Item], cached: Cached, shots: Shots) -> None:
    """Rejection of the left-out scenarios' requests; the threshold is chosen on train."""
    print(f"\n## Out of scope: {', '.join(LEFT_OUT)} left out of the team")
    print(
        "| fit | examples | threshold (from train) | OOS rejected | in-scope accuracy lost |"
        " OOS rejected at 2.0 points lost |"
    )
    print("|---|---|---|---|---|---|")
    tune = random.Random(4).sample(train, 2000)
    for examples in (0, 5):
        agents = team(shots(LEFT_OUT) if examples else None, LEFT_OUT)
        for name, fit in fits(cached).items():
            router = Router(agents, strategy="specialization", fit=fit)
            used = used_examples(router)
            known = [i for i in tune if i["text"] not in used and i["scenario"] not in LEFT_OUT]
            threshold = choose_threshold(confidences(router, known))
            scored = confidences(router, test)
            inside = [s for s, i in zip(scored, test, strict=True) if i["scenario"] not in LEFT_OUT]
            outside = [s for s, i in zip(scored, test, strict=True) if i["scenario"] in LEFT_OUT]
            rejected = sum(c < threshold for c, _ in outside) / len(outside)
            before = sum(ok for _, ok in inside) / len(inside)
            after = sum(ok and c >= threshold for c, ok in inside) / len(inside)
            # The last column sets the threshold on test itself: how well the confidence
            # ranks, at the same cost for every fit (not a figure a deployment would get).
            exact = choose_threshold(inside)
            print(
                f"| {name} | {examples} | {threshold:.2f} | {rejected:.0%} |"
                f" {100 * (before - after):.1f} points ({before:.3f} -> {after:.3f}) |"
                f" {sum(c < exact for c, _ in outside) / len(outside):.0%} |"
            )


def latency(test: list[Item], model: MiniLM | MPNet, shots: dict[str, list[str]]) -> None:
    """p50/p99 of each call's wall time and CPU time (the CPU figure holds on a busy machine,
    where a call's wall time includes waiting for a core)."""
    print("\n## Latency on one core (20 agents: the 18, two of them twice; 5 examples each)")
    agents = team(shots)
    agents += [a.model_copy(update={"name": f"{a.name}_2"}) for a in agents[:2]]
    cached = Cached(model)
    texts = [i["text"] for i in test[:300]]
    cached.warm(texts)
    for name, fit in fits(cached).items():
        router = Router(agents, strategy="score", fit=fit, load=LoadCounter())
        router.decide(texts[0])
        print(f"- decision, request embedded, {name}: {_timed(router.decide, texts)}")
    print(f"- embedding one request: {_timed(lambda text: model.encode([text]), texts)}")


def _timed(call: Callable[[str], object], texts: list[str]) -> str:
    wall, cpu = [], []
    for text in texts:
        start, cpu0 = time.perf_counter(), time.process_time()
        call(text)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    return (
        f"CPU p50 {_ms(cpu, 50)} p99 {_ms(cpu, 99)}; wall p50 {_ms(wall, 50)} p99 {_ms(wall, 99)}"
    )


def _ms(values: list[float], q: int) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)] * 1e3:.3f} ms"


def record(
    test: list[Item], cached: Cached, shots: dict[str, list[str]], out: str | None, plot: str | None
) -> None:
    """Each test request's decision (embedding fit, 5 examples) as JSON lines, and/or the
    confusion matrix as a picture (needs `accord[plots]`)."""
    router = Router(team(shots), strategy="specialization", fit=fits(cached)["embedding"])
    rows = []
    for item in test:
        decision = router.decide(item["text"])
        rows.append(
            {
                "text": item["text"],
                "gold": item["scenario"],
                "agent": decision.agent,
                "confidence": round(decision.confidence or 0.0, 4),
                "fits": decision.fits,
            }
        )
    if out:
        Path(out).write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"\nwrote {len(rows)} decisions to {out}")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = sorted(TEAM)
        counts = np.zeros((len(labels), len(labels)))
        for r in rows:
            counts[labels.index(r["gold"]), labels.index(r["agent"])] += 1
        share = counts / counts.sum(axis=1, keepdims=True)
        figure, axes = plt.subplots(figsize=(8, 7))
        axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
        axes.set_xticks(range(len(labels)), labels, rotation=90)
        axes.set_yticks(range(len(labels)), labels)
        axes.set_xlabel("routed to")
        axes.set_ylabel("right agent")
        accuracy = np.trace(counts) / counts.sum()
        axes.set_title(f"HWU64 test: embedding fit, 5 examples (accuracy {accuracy:.3f})")
        figure.tight_layout()
        figure.savefig(plot, dpi=100)
        print(f"wrote the confusion matrix to {plot}")


SECTIONS = ("quality", "scope", "model", "latency", "cascade")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the HWU64 folder (train.jsonl, test.jsonl)")
    parser.add_argument("--calibrate", action="store_true", help="fit calibrations on train")
    parser.add_argument("--quick", action="store_true", help="one arrival rate only")
    parser.add_argument("--out", help="write each test decision as JSON lines to this file")
    parser.add_argument("--plot", help="save the confusion matrix to this PNG")
    parser.add_argument("--model", default="local", help="whose cached model-router answers")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="print only these sections")
    parser.add_argument(
        "--encoder", choices=sorted(ENCODERS), default="minilm", help="the sentence encoder"
    )
    parser.add_argument(
        "--examples", choices=EXAMPLES, default="picked", help="how the examples are chosen"
    )
    args = parser.parse_args()
    folder = data_dir(args.data)
    train, test = read(folder / "train.jsonl"), read(folder / "test.jsonl")
    load = os.getloadavg()
    print(
        f"# Routing quality on HWU64 ({folder}), encoder {args.encoder};"
        f" load average {load[0]:.2f} {load[1]:.2f}"
    )
    started, cpu = time.perf_counter(), time.process_time()
    # The examples are chosen on MiniLM's vectors whatever the encoder: the same team for both.
    picker = Cached(MiniLM.shared(), EMBEDDED)
    examples = Shots(train, picker, args.examples)
    shots = examples()
    picker.save()
    model = ENCODERS[args.encoder]()
    cached = Cached(model, embedded(args.encoder))
    cached.warm([i["text"] for i in test])
    cached.save()
    if args.calibrate:
        calibrate(train, fits(cached), examples)
        return
    if args.out or args.plot:
        record(test, cached, shots, args.out, args.plot)
    sections = set(args.only or SECTIONS)
    if "quality" in sections:
        quality(test, cached, shots, args.quick)
    if "scope" in sections:
        out_of_scope(train, test, cached, examples)
    if "model" in sections:
        # The model router's answers (bench/routing_model.py) were asked with the medoids.
        medoids = Shots(train, picker, "medoids")()
        router = Router(team(medoids), strategy="specialization", fit=fits(cached)["embedding"])
        used = used_examples(router)
        tune = [i for i in random.Random(4).sample(train, 2000) if i["text"] not in used]
        answers = model_answers(args.model, 3, medoids)
        cascade(stratified(test, 200), answers, router, tune)
        odds = model_answers(args.model, 3, medoids, logprobs=True)
        weighed(stratified(test, 200), odds, router, train)
    if "latency" in sections:
        latency(test, model, shots)
    if "cascade" in sections:
        large = Cached(MPNet.shared(), embedded("mpnet"))
        gate = encoder_cascade.cascade(
            train, test, picker, large, shots, MPNet.calibrations["embedding"]
        )
        large.save()
        encoder_cascade.latency(test, MiniLM.shared(), MPNet.shared(), shots, gate)
    cached.save()
    load = os.getloadavg()
    print(
        f"\nwall {time.perf_counter() - started:.0f} s, CPU {time.process_time() - cpu:.0f} s;"
        f" load average at the end {load[0]:.2f} {load[1]:.2f}"
    )


if __name__ == "__main__":
    main()
