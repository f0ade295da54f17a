"""The example registry: every example builds, with the agents its pattern promises."""

from __future__ import annotations

import pytest

from accord.evals.teams import EXAMPLES, ExampleSpec

EXPECTED = {
    "onboarding": {"intake", "verification", "setup", "support"},
    "tech_support": {"support", "diagnostics", "network", "synthesis"},
    "project": {"coordinator", "resources", "timeline", "risk", "synthesis"},
    "credit": {"credit_history", "market", "compliance", "tally"},
    "finance": {"router", "market_risk", "fraud", "liquidity"},
    "care": {"router", "scheduling", "medication", "billing"},
    "ecommerce": {"router", "orders", "returns", "products"},
}


def test_registry_names_every_pattern() -> None:
    assert set(EXAMPLES) == set(EXPECTED)
    assert {s.pattern for s in EXAMPLES.values()} == {
        "handoff",
        "consultation",
        "delegation",
        "consensus",
        "routed",
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_builds_with_its_agents(name: str) -> None:
    spec: ExampleSpec = EXAMPLES[name]
    assert spec.description
    assert spec.sample
    graph = spec.build(models=("scripted",))
    assert EXPECTED[name] <= set(graph.nodes)
