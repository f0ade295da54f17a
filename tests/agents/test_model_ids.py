"""Model ids that name their endpoint and key source, so one chain can span servers.

Regression of issue 14: two `openai:` ids in one chain could not point at different servers
(one global `OPENAI_BASE_URL`).
"""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents import ChainPolicy, FaultServer, canned, model_chain, resolve_model
from accord.agents.errors import ModelSpecError, ModelUnavailable, UnknownModelId
from accord.agents.models import Backoff, Breakers
from accord.agents.models.breaker import endpoint_key
from accord.agents.models.spec import MODEL_ID_FORMS, ModelSpec, parse_model_id


@pytest.fixture(autouse=True)
def _online(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-meant-for-openai-only")


def _key(model: object) -> str:
    assert isinstance(model, ChatOpenAI)
    assert isinstance(model.openai_api_key, SecretStr)
    return model.openai_api_key.get_secret_value()


def test_ids_parse_into_provider_model_endpoint_key_source_and_limits() -> None:
    assert parse_model_id("openai:qwen@http://gpu-2:8080/v1/?key_env=GPU_KEY&total=60") == (
        ModelSpec("openai", "qwen", "http://gpu-2:8080/v1", "GPU_KEY", {"total": 60.0})
    )
    assert parse_model_id("ollama:qwen2.5-coder:0.5b@http://box:11434") == ModelSpec(
        "ollama", "qwen2.5-coder:0.5b", "http://box:11434"
    )
    assert parse_model_id(" local ") == ModelSpec("local")
    assert parse_model_id("openai:gpt-4o-mini") == ModelSpec("openai", "gpt-4o-mini")


async def test_one_chain_spans_two_servers_named_by_their_ids() -> None:
    with (
        FaultServer(canned("from the first"), rate_500=1.0) as first,
        FaultServer(canned("from the second")) as second,
    ):
        models = [resolve_model(f"openai:qwen@{server.url}") for server in (first, second)]
        assert endpoint_key(models[0]) != endpoint_key(models[1])  # one breaker each
        policy = ChainPolicy(backoff=Backoff(attempts=1), breakers=Breakers())
        chain = model_chain(models, policy=policy)
        assert (await chain.ainvoke("hi")).text == "from the second"
        assert (first.counts, second.counts) == ({"500": 1}, {"ok": 1})


def test_a_key_goes_only_where_the_id_says(monkeypatch: pytest.MonkeyPatch) -> None:
    named = resolve_model("openai:qwen@http://gpu-2:8080/v1")
    assert isinstance(named, ChatOpenAI)
    assert named.openai_api_base == "http://gpu-2:8080/v1"
    assert _key(named) == "not-needed"  # OPENAI_API_KEY is not sent to another server

    monkeypatch.setenv("GPU_KEY", "sk-gpu-2")
    assert _key(resolve_model("openai:qwen@http://gpu-2:8080/v1?key_env=GPU_KEY")) == "sk-gpu-2"
    assert _key(resolve_model("openai:gpt-4o-mini")) == "sk-meant-for-openai-only"
    assert _key(resolve_model("openai:gpt-4o-mini?key_env=GPU_KEY")) == "sk-gpu-2"


def test_a_missing_key_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPU_KEY", raising=False)
    with pytest.raises(ModelUnavailable, match="environment variable GPU_KEY, which is not set"):
        resolve_model("openai:qwen@http://gpu-2:8080/v1?key_env=GPU_KEY")


def test_an_id_with_an_endpoint_and_a_base_url_option_is_refused() -> None:
    with pytest.raises(ModelSpecError, match="keep one"):
        resolve_model("openai:qwen@http://gpu-2:8080/v1", base_url="http://other:8080/v1")


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("openai:qwen@ftp://gpu-2/v1", "not an http(s) URL"),
        ("openai:qwen@", "not an http(s) URL"),
        ("openai:qwen@gpu-2:8080", "not an http(s) URL"),
        ("openai:qwen?timeout=5", "take connect=, first_byte=, total=, key_env="),
        ("ollama:qwen?key_env=KEY", "take connect=, first_byte=, total="),
        ("openai:qwen?total", "take connect="),
        ("openai:qwen?total=abc", "number of seconds"),
        ("openai:qwen?total=0", "positive number of seconds"),
        ("openai:qwen?total=1&total=2", "twice"),
        ("openai:qwen?key_env=1BAD", "environment variable"),
        ("openai:qwen?api_key=sk-123", "never write a key in a model id"),
        ("openai:qwen@http://h:1/v1?key=sk-123", "key_env=NAME"),
    ],
)
def test_bad_ids_say_what_is_wrong_and_what_works(spec: str, says: str) -> None:
    with pytest.raises(ModelSpecError, match=says.replace("(", r"\(").replace(")", r"\)")):
        resolve_model(spec)


def test_unknown_ids_list_every_form_including_endpoints() -> None:
    with pytest.raises(UnknownModelId) as caught:
        resolve_model("anthropic:claude@http://h:1/v1")
    for form in MODEL_ID_FORMS:
        assert form in str(caught.value)
    assert "key_env=NAME" in str(caught.value)
    assert "first_byte" in str(caught.value)
