"""The process's registers are reached through functions; a user may pass registers of their own."""

from __future__ import annotations

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents import Agent, ChainPolicy, Router, ScriptedModel, breakers, standby
from accord.agents.errors import CircuitOpen
from accord.agents.models import Breakers, BreakerSettings
from accord.agents.models.breaker import endpoint_key
from accord.agents.routing import LoadCounter, SharedLoad
from accord.agents.routing.load import process_load
from accord.agents.routing.standby import FAILOVER, OVERLOAD, Standby

TEAM = [
    Agent(name="intake", description="Greets", capacity=1, backup="support"),
    Agent(name="support", description="Helps", capacity=1),
]


def _remote() -> ChatOpenAI:
    return ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key=SecretStr("x"))


def test_the_process_registers_are_shared_by_default() -> None:
    assert breakers() is breakers()
    assert standby() is standby()
    assert ChainPolicy().breakers is breakers()
    assert standby().breakers is breakers()
    assert Router(TEAM).load is process_load()
    assert SharedLoad("sqlite://").local is process_load()


def test_registers_a_user_owns_are_used_instead() -> None:
    own, load = Breakers(), LoadCounter()
    assert ChainPolicy(breakers=own).breakers is own
    assert Standby(own).breakers is own
    assert Router(TEAM, load=load).load is load


def test_a_full_agent_hands_over_to_a_backup_with_room() -> None:
    register = Standby(Breakers())
    intake, support = TEAM
    register.register(support, [ScriptedModel([])])
    assert register.handover(intake) is None
    with register.running("intake"):
        assert register.handover(intake) == OVERLOAD
        with register.running("support"):
            assert register.handover(intake) is None  # the backup is full too
    assert register.handover(support) is None  # no backup


def test_an_agent_whose_models_are_down_hands_over_to_a_backup_that_is_up() -> None:
    own = Breakers(BreakerSettings(min_calls=1))
    register = Standby(own)
    intake, support = TEAM
    model = _remote()
    key = endpoint_key(model)
    assert key is not None
    register.register(support, [model])
    down = CircuitOpen(key, 1.0)
    assert register.handover(intake, down) == FAILOVER
    assert register.handover(intake, ValueError("a bad request")) is None
    own.get(key).failed()  # the backup's only endpoint is down as well
    assert register.handover(intake, down) is None
