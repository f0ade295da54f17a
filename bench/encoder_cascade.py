"""The encoder cascade on HWU64: all-MiniLM-L6-v2 decides when it is confident, and only when
it is not is the request embedded by all-mpnet-base-v2 (several times the work), whose
similarities decide alone ("mpnet") or added to MiniLM's ("both").

The gate (MiniLM's calibrated confidence) is chosen on training requests: the lowest gate whose
training accuracy is within `SLACK` of the best gate's. Printed: accuracy and the
share of requests sent to mpnet at several gates, on both folds, and each encoder's embedding
latency with the cascade's, measured in one run on one core.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

import numpy as np
from hwu64 import Cached, Item, team

from accord.agents import Router
from accord.agents.routing import Calibration, EmbeddingFit, MiniLM, MPNet

GATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.01)
SLACK = 0.002
"""Training accuracy the cascade may give up against its best gate, for fewer mpnet calls."""
Row = tuple[bool, float, bool, bool]
"""Per request: MiniLM right, MiniLM's confidence, mpnet right, both encoders together right."""


def decisions(
    items: list[Item], small: EmbeddingFit, large: EmbeddingFit, names: list[str]
) -> list[Row]:
    """What each stage decides per request; "both" adds the two encoders' similarities."""
    out = []
    for item in items:
        first, second = small.match(item["text"]), large.match(item["text"])
        best = int(np.argmax(first.similarity))
        both = int(np.argmax(np.add(first.similarity, second.similarity)))
        out.append(
            (
                names[best] == item["scenario"],
                first.confidence(best),
                names[int(np.argmax(second.similarity))] == item["scenario"],
                names[both] == item["scenario"],
            )
        )
    return out


def accuracy(rows: Sequence[Row], gate: float, stage: int) -> tuple[float, float]:
    """The cascade's accuracy at `gate` with `stage` (2: mpnet, 3: both) below it, and the
    share of requests that needed mpnet."""
    right = sum(row[0] if row[1] >= gate else row[stage] for row in rows)
    sent = sum(row[1] < gate for row in rows)
    return right / len(rows), sent / len(rows)


def cascade(
    train: list[Item],
    test: list[Item],
    small: Cached,
    large: Cached,
    shots: dict[str, list[str]],
    calibration: Calibration,
) -> float:
    """Prints the trade-off per gate, for 0 and 5 examples and each second stage (mpnet alone,
    or both encoders' similarities added); returns the gate chosen for "both" with 5."""
    print("\n## Encoder cascade: MiniLM decides above the gate, the second stage below it")
    print("| examples | second stage | gate | train accuracy / sent to mpnet | test |")
    print("|---|---|---|---|---|")
    gate = 1.01
    for examples in (0, 5):
        agents = team(shots if examples else None)
        first = EmbeddingFit(agents, small)
        second = EmbeddingFit(agents, large, calibration=calibration)
        names = [a.name for a in agents]
        used = {e for a in agents for e in a.examples}
        tune = [i for i in random.Random(4).sample(train, 2000) if i["text"] not in used]
        on_train = decisions(tune, first, second, names)
        on_test = decisions(test, first, second, names)
        for stage, label in ((2, "mpnet"), (3, "both")):
            best = max(accuracy(on_train, g, stage)[0] for g in GATES)
            chosen = min(g for g in GATES if accuracy(on_train, g, stage)[0] >= best - SLACK)
            gate = chosen
            for g in GATES:
                cells = [
                    "{:.3f} / {:.0%}".format(*accuracy(rows, g, stage))
                    for rows in (on_train, on_test)
                ]
                mark = " (chosen on train)" if g == chosen else ""
                print(f"| {examples} | {label} | {g:.2f}{mark} | {cells[0]} | {cells[1]} |")
    return gate


def latency(
    test: list[Item], minilm: MiniLM, mpnet: MPNet, shots: dict[str, list[str]], gate: float
) -> None:
    """Embedding one request with each encoder and through the cascade (MiniLM, then mpnet
    when MiniLM's confidence is below `gate`), CPU and wall p50/p99 over the same requests."""
    agents = team(shots)
    first = Router(agents, strategy="specialization", fit=lambda a: EmbeddingFit(a, minilm))
    texts = [i["text"] for i in test[:300]]
    timings: dict[str, tuple[list[float], list[float]]] = {
        k: ([], []) for k in ("minilm", "mpnet", "cascade")
    }
    sent = 0
    for text in texts:
        for name, encoder in (("minilm", minilm), ("mpnet", mpnet)):
            start, cpu = time.perf_counter(), time.process_time()
            encoder.encode([text])
            timings[name][0].append(time.process_time() - cpu)
            timings[name][1].append(time.perf_counter() - start)
        start, cpu = time.perf_counter(), time.process_time()
        decision = first.decide(text)  # embeds the request with MiniLM, then decides
        if (decision.confidence or 0.0) < gate:
            sent += 1
            mpnet.encode([text])
        timings["cascade"][0].append(time.process_time() - cpu)
        timings["cascade"][1].append(time.perf_counter() - start)
    print(f"\n## Embedding one request, one core ({len(texts)} test requests; cascade gate {gate})")
    for name, (cpu_s, wall_s) in timings.items():
        extra = f", {sent} of {len(texts)} sent to mpnet" if name == "cascade" else ""
        print(
            f"- {name}: CPU p50 {_ms(cpu_s, 50)} p99 {_ms(cpu_s, 99)};"
            f" wall p50 {_ms(wall_s, 50)} p99 {_ms(wall_s, 99)}{extra}"
        )


def _ms(values: list[float], q: int) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)] * 1e3:.1f} ms"
