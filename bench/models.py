"""Which embedded model should `"local"` be? Both, on accord's own prompts, measured.

    .venv/bin/python bench/models.py                 # both models, every probe
    .venv/bin/python bench/models.py --only local    # one model
    .venv/bin/python bench/models.py --threads 1 2   # tokens/s of "local" by thread count

Three probes, each a real step of an example team on the real embedded server:
- verification: an onboarding turn where the customer gives details; sensible = does not ask
  again for a detail already given, asks for one still missing;
- routing: the model router of the finance, care and ecommerce teams; right = the expected
  specialist;
- votes: the credit panel; right = the vote the case calls for.
Prints the scores, the time per structured call (wall) and the load average, which says how
idle the machine was. The cases are written here, not taken from any dataset's test split.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import Any

import httpx
from langchain_core.messages import AIMessage, HumanMessage

from accord.agents import warm_up
from accord.agents.models.local import embedded_server
from accord.evals import EXAMPLES

VERIFY = [  # (what the customer says to verification, details still missing)
    ("I was born on 3 May 1990 and my passport number is X1234567.", ()),
    ("My date of birth is 12/01/1975, ID card number 884422.", ()),
    ("Sure: born 30 June 2001, passport P7788123.", ()),
    ("Born 9 September 1969. Passport number C0019283.", ()),
    ("Date of birth 14 February 1995 and national ID 55-2231-9.", ()),
    ("I was born on 2 March 1980.", ("id",)),
    ("My passport number is K5566778.", ("birth",)),
    ("Here you go: ID number 7731902.", ("birth",)),
]
ASKS = {
    "birth": re.compile(r"(?i)(date of birth|birth ?date|born)"),
    "id": re.compile(r"(?i)(passport|\bid\b|identification)"),
}
ROUTES = [
    (
        "finance",
        "Our euro bond portfolio lost value after the rate hike; how exposed are we?",
        "market_risk",
    ),
    ("finance", "A customer's card was used in two countries within ten minutes.", "fraud"),
    ("finance", "Can we cover next month's payroll with the cash we have?", "liquidity"),
    (
        "finance",
        "Someone emailed asking staff to wire money to a new supplier account urgently.",
        "fraud",
    ),
    ("care", "I need to book a follow-up with my cardiologist next week.", "scheduling"),
    ("care", "Can I take ibuprofen with my blood pressure pills?", "medication"),
    ("care", "My insurance rejected the claim for my last visit.", "billing"),
    ("care", "I ran out of my insulin prescription.", "medication"),
    ("ecommerce", "I want to send back the shoes I bought, they are too small.", "returns"),
    ("ecommerce", "Where is my parcel? Order 5521 was due yesterday.", "orders"),
    ("ecommerce", "Does this laptop have a backlit keyboard?", "products"),
    ("ecommerce", "The blender arrived broken and I want my money back.", "returns"),
]
VOTES = [
    (
        "Loan of 10000 EUR for a florist; 12 years of on-time payments; stable local demand.",
        "approve",
    ),
    (
        "Loan of 80000 EUR; applicant defaulted on two loans last year and has unpaid taxes.",
        "reject",
    ),
    (
        "Loan of 30000 EUR for a new company whose owner will not say where the money goes.",
        "reject",
    ),
    ("Loan of 5000 EUR for a teacher with a steady salary and no debts.", "approve"),
    ("Loan of 25000 EUR for a restaurant; some late payments, sector recovering slowly.", "refer"),
]


class Calls:
    """Counts the structured calls a probe made, from the server's own slot counters."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0


def _verification(calls: Calls) -> tuple[int, int, int]:
    graph = EXAMPLES["onboarding"].build()
    sensible = handed = 0
    for said, missing in VERIFY:
        messages = [
            HumanMessage("Hi, I'm Lea Novak and I'd like a current account."),
            AIMessage("Welcome, Lea! I'll pass you to verification.", name="intake"),
            HumanMessage(said),
        ]
        began = time.monotonic()
        update = _first_update(graph, {"messages": messages, "active_agent": "verification"})
        calls.count += 1
        calls.seconds += time.monotonic() - began
        reply = update["messages"][-1].content
        asked = {k for k, pattern in ASKS.items() if "?" in reply and pattern.search(reply)}
        ok = asked <= set(missing) and (not missing or bool(asked))
        sensible += ok
        handed += update.get("active_agent") == "setup"
        print(f"  verify  {'ok ' if ok else 'BAD'} handoff={update.get('active_agent')}: {reply!r}")
    return sensible, handed, len(VERIFY)


def _routing(calls: Calls) -> tuple[int, int]:
    right = 0
    for team, request, expected in ROUTES:
        began = time.monotonic()
        update = _first_update(EXAMPLES[team].build(), {"messages": [HumanMessage(request)]})
        calls.count += 1
        calls.seconds += time.monotonic() - began
        chosen = update["route"]["agent"]
        right += chosen == expected
        print(f"  route   {'ok ' if chosen == expected else 'BAD'} {chosen:<12} <- {request}")
    return right, len(ROUTES)


def _votes(calls: Calls) -> tuple[int, int]:
    right = total = 0
    graph = EXAMPLES["credit"].build()
    for request, expected in VOTES:
        began = time.monotonic()
        state = graph.invoke({"messages": [HumanMessage(request)]})
        calls.count += len(state["votes"])
        calls.seconds += time.monotonic() - began
        choices = [v["choice"] for v in state["votes"]]
        right += sum(c == expected for c in choices)
        total += len(choices)
        print(f"  votes   want {expected:<8} got {choices}")
    return right, total


def _first_update(graph: Any, payload: dict[str, Any]) -> dict[str, Any]:
    # The first step's update is the decision under test; the rest of the run is not needed.
    for update in graph.stream(payload, stream_mode="updates"):
        for change in update.values():
            return dict(change)
    raise RuntimeError("the graph produced no update")


def probe(model: str) -> None:
    """Runs every probe with `model` ("local" or "local:small") as every agent's model."""
    variant = model.partition(":")[2]
    os.environ["ACCORD_BENCH_MODEL"] = model
    print(f"\n== {model} ({embedded_server(variant).model.name}), load {_load()}")
    print(f"  ready in {warm_up(variant):.1f} s")
    _use(model)
    calls = Calls()
    cpu = _cpu(embedded_server(variant).pid)
    sensible, handed, n = _verification(calls)
    routes, nr = _routing(calls)
    votes, nv = _votes(calls)
    cpu = _cpu(embedded_server(variant).pid) - cpu
    per = max(calls.count, 1)
    print(
        f"== {model}: verification sensible {sensible}/{n} (handed to setup {handed}/{n}), "
        f"routes {routes}/{nr}, votes {votes}/{nv}; {calls.count} calls, "
        f"{calls.seconds / per:.1f} s wall and {cpu / per:.1f} s server CPU per structured "
        f"call; load {_load()}"
    )
    embedded_server(variant).stop()


_ORIGINAL = {name: spec.build for name, spec in EXAMPLES.items()}


def _use(model: str) -> None:
    # Every example builder takes `models=`; the probes build through EXAMPLES, so patch them
    # (from the original builders: a wrapper of a wrapper would keep the first model).
    for name, build in _ORIGINAL.items():

        def built(*args: Any, _build: Any = build, **kwargs: Any) -> Any:
            return _build(*args, **{**kwargs, "models": (model,)})

        object.__setattr__(EXAMPLES[name], "build", built)


def threads(counts: list[int]) -> None:
    """Tokens/s of one 128-token generation of `"local"` per thread count, three runs each."""
    for count in counts:
        os.environ["ACCORD_LOCAL_THREADS"] = str(count)
        server = embedded_server()
        url = server.start()
        rates = []
        for run in range(3):
            body = {
                "model": server.model.name,
                "messages": [{"role": "user", "content": f"Write a short story number {run}."}],
                "max_tokens": 128,
                "temperature": 0,
            }
            timings = httpx.post(f"{url}/chat/completions", json=body, timeout=600).json()
            rates.append(timings["timings"]["predicted_per_second"])
        print(
            f"threads {count}: " + ", ".join(f"{r:.1f}" for r in rates) + f" tok/s; load {_load()}"
        )
        server.stop()


def cache() -> None:
    """Prompt tokens read per turn of one agent's growing conversation: the cache at work."""
    from accord.graphs.prompts import conversation

    agent = EXAMPLES["onboarding"].build().nodes["verification"].bound.agent
    server = embedded_server()
    url = server.start()
    turns = [
        "Hi, I'm Lea Novak and I'd like a current account.",
        "I was born on 3 May 1990.",
        "My passport number is X1234567.",
    ]
    messages: list[Any] = []
    for number, text in enumerate(turns, 1):
        messages.append(HumanMessage(text))
        facts = {"full_name": "Lea Novak", "account_type": "current"}
        prompt = conversation(agent, [], messages, facts)
        body = {
            "model": server.model.name,
            "messages": [
                {
                    "role": m.type.replace("human", "user").replace("ai", "assistant"),
                    "content": m.text,
                }
                for m in prompt
            ],
            "max_tokens": 40,
            "temperature": 0,
        }
        began = time.monotonic()
        answer = httpx.post(f"{url}/chat/completions", json=body, timeout=600).json()
        timings = answer["timings"]
        print(
            f"turn {number}: prompt read {timings['prompt_n']} tokens, "
            f"{timings.get('cache_n', 0)} from cache, {time.monotonic() - began:.1f} s; "
            f"load {_load()}"
        )
        messages.append(AIMessage(answer["choices"][0]["message"]["content"], name="verification"))
    server.stop()


def _cpu(pid: int | None) -> float:
    """CPU seconds the server process has used: on an idle machine, its wall time per thread."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["local", "local:small"])
    parser.add_argument("--threads", type=int, nargs="*")
    parser.add_argument("--cache", action="store_true", help="prompt tokens read per turn")
    args = parser.parse_args()
    if args.cache:
        cache()
        return
    if args.threads:
        threads(args.threads)
        return
    for model in [args.only] if args.only else ["local", "local:small"]:
        probe(model)


if __name__ == "__main__":
    main()
