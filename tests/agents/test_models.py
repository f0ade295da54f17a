"""Model ids → chat models, offline mode, and the environment variables that steer them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents.errors import ModelSpecError, ModelUnavailable, OfflineMode, UnknownModelId
from accord.agents.models import environment
from accord.agents.models.environment import LocalSettings, accord_home, offline, require_online
from accord.agents.models.ids import resolve_model
from accord.agents.models.local import LOCAL_MODEL_NAME
from accord.agents.models.local.chat import LocalChatModel
from accord.agents.testing.scripted import ScriptedModel


def test_the_suite_runs_offline() -> None:
    assert os.environ["ACCORD_OFFLINE"] == "1"
    assert offline()
    with pytest.raises(OfflineMode, match=r"ACCORD_OFFLINE=1.*ScriptedModel"):
        require_online("do the thing")


@pytest.mark.parametrize("value", ["0", "", "no", "off"])
def test_offline_is_off_for_falsy_values(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ACCORD_OFFLINE", value)
    assert not offline()


def test_local_builds_a_lazy_reproducible_model_even_offline() -> None:
    model = resolve_model("local")

    assert isinstance(model, LocalChatModel)
    assert model.model_name == LOCAL_MODEL_NAME
    assert model.temperature == 0.0
    assert model.seed == 0
    assert model.max_tokens == 512
    assert model.server.url is None  # nothing started


def test_local_is_the_1_5b_model_and_local_small_the_0_5b_one() -> None:
    default, small = resolve_model("local"), resolve_model("local:small")

    assert isinstance(small, LocalChatModel)
    assert (default.model_name, small.model_name) == (  # type: ignore[attr-defined]
        "qwen2.5-coder-1.5b-instruct",
        "qwen2.5-coder-0.5b-instruct",
    )
    # Each has its own server process, started on its own first call.
    assert small.server is not default.server  # type: ignore[attr-defined]
    assert small.server.model.file == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def test_an_unknown_local_variant_names_the_known_ones() -> None:
    with pytest.raises(UnknownModelId, match=r"'local:huge'.*'local', 'local:small'"):
        resolve_model("local:huge")


def test_the_default_thread_count_falls_back_to_the_load_average(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ACCORD_LOCAL_THREADS", raising=False)
    monkeypatch.setattr(environment, "PROC_STAT", tmp_path / "no-such-stat")
    monkeypatch.setattr(environment, "_usable_cores", lambda: 2)
    for load, threads in ((0.1, 2), (1.3, 1), (6.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert LocalSettings.from_env().threads == threads
    monkeypatch.setattr(environment, "_usable_cores", lambda: 16)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.2, 0.0, 0.0))
    assert LocalSettings.from_env().threads == 13


SLEEP = "accord.agents.models.environment.time.sleep"


class _Stat:
    """A `/proc/stat` whose counters advance between reads: cpu0 idle, cpu1 `busy` busy."""

    def __init__(self, path: Path, busy: float) -> None:
        self.path, self.busy, self.reads = path, busy, 0
        self.write()

    def write(self) -> None:
        n = self.reads * 100
        used = int(n * self.busy)
        self.path.write_text(
            f"cpu  {used} 0 0 {2 * n - used} 0 0 0 0 0 0\n"
            f"cpu0 0 0 0 {n} 0 0 0 0 0 0\n"
            f"cpu1 {used} 0 0 {n - used} 0 0 0 0 0 0\nintr 1 2 3\n"
        )
        self.reads += 1


def test_the_default_thread_count_is_the_cores_idle_now_not_a_minute_ago(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ACCORD_LOCAL_THREADS", raising=False)
    # A lagging load average that says busy must not win over what the counters say now.
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.5, 1.5))
    monkeypatch.setattr(environment, "_usable_cores", lambda: 2)
    monkeypatch.setattr(environment, "_usable_cpu_ids", lambda: {0, 1})
    for busy, threads in ((0.0, 2), (0.3, 2), (0.9, 1)):
        stat = _Stat(tmp_path / f"stat-{busy}", busy)
        monkeypatch.setattr(environment, "PROC_STAT", stat.path)
        monkeypatch.setattr(SLEEP, lambda _s, stat=stat: stat.write())
        assert LocalSettings.from_env().threads == threads


def test_the_busy_cores_count_only_the_usable_cpus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stat = _Stat(tmp_path / "stat", busy=1.0)
    monkeypatch.setattr(SLEEP, lambda _s: stat.write())
    monkeypatch.setattr(environment, "_usable_cpu_ids", lambda: {0})
    assert environment.busy_cores(stat=stat.path) == 0.0
    assert environment.busy_cores(stat=tmp_path / "none") is None


def test_a_set_thread_count_skips_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_LOCAL_THREADS", "3")
    monkeypatch.setattr(environment, "busy_cores", lambda: pytest.fail("sampled"))
    assert LocalSettings.from_env().threads == 3


def test_local_options_override_the_defaults() -> None:
    model = resolve_model("local", temperature=0.7, max_tokens=64)
    assert isinstance(model, ChatOpenAI)
    assert (model.temperature, model.max_tokens) == (0.7, 64)


def test_local_url_points_local_at_a_running_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_LOCAL_URL", "http://127.0.0.1:8081/v1/")

    model = resolve_model("local")

    assert type(model) is ChatOpenAI
    assert model.openai_api_base == "http://127.0.0.1:8081/v1"
    assert model.temperature == 0.0


def test_openai_is_refused_offline() -> None:
    with pytest.raises(OfflineMode, match="openai:gpt-4o-mini"):
        resolve_model("openai:gpt-4o-mini")


def test_ollama_is_refused_offline() -> None:
    with pytest.raises(OfflineMode, match=r"ollama:llama3\.2"):
        resolve_model("ollama:llama3.2")


@pytest.mark.allow_network_models
def test_openai_reads_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    model = resolve_model("openai:gpt-4o-mini", temperature=0)

    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini"
    assert isinstance(model.openai_api_key, SecretStr)
    assert model.openai_api_key.get_secret_value() == "sk-test"


@pytest.mark.allow_network_models
def test_openai_compatible_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    model = resolve_model("openai:qwen2.5", base_url="http://127.0.0.1:8000/v1")

    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:8000/v1"


@pytest.mark.allow_network_models
def test_openai_without_key_or_server_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    with pytest.raises(ModelUnavailable, match="OPENAI_API_KEY"):
        resolve_model("openai:gpt-4o-mini")


@pytest.mark.allow_network_models
def test_ollama_builds_a_chat_ollama() -> None:
    from langchain_ollama import ChatOllama

    model = resolve_model("ollama:llama3.2", base_url="http://127.0.0.1:11434")

    assert isinstance(model, ChatOllama)
    assert model.model == "llama3.2"


@pytest.mark.allow_network_models
def test_ollama_without_its_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_ollama", None)

    with pytest.raises(ModelUnavailable, match=r"pip install 'accord\[ollama\]'"):
        resolve_model("ollama:llama3.2")


def test_a_chat_model_passes_through() -> None:
    model = ScriptedModel(["hi"])
    assert resolve_model(model) is model


def test_options_with_a_chat_model_are_refused() -> None:
    with pytest.raises(ModelSpecError, match="temperature"):
        resolve_model(ScriptedModel([]), temperature=0)


@pytest.mark.parametrize("spec", ["gpt-4o", "anthropic:claude", "locale", "", "scripted"])
def test_unknown_ids_list_the_valid_forms(spec: str) -> None:
    with pytest.raises(UnknownModelId) as caught:
        resolve_model(spec)
    message = str(caught.value)
    assert '"local"' in message
    assert '"openai:<model>"' in message
    assert '"ollama:<model>"' in message
    assert isinstance(caught.value, ValueError)


def test_an_id_without_a_model_name_is_refused() -> None:
    with pytest.raises(ModelSpecError, match="names no model"):
        resolve_model("openai: ")


def test_local_settings_defaults(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in ("THREADS", "CTX", "PARALLEL", "START_TIMEOUT"):
        monkeypatch.delenv(f"ACCORD_LOCAL_{name}", raising=False)

    settings = LocalSettings.from_env()

    assert settings.threads >= 1
    assert (settings.ctx, settings.parallel, settings.start_timeout) == (4096, 2, 120.0)
    assert settings.home == home == accord_home()


def test_local_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_LOCAL_THREADS", "3")
    monkeypatch.setenv("ACCORD_LOCAL_CTX", "2048")
    monkeypatch.setenv("ACCORD_LOCAL_START_TIMEOUT", "7.5")

    settings = LocalSettings.from_env()

    assert (settings.threads, settings.ctx, settings.start_timeout) == (3, 2048, 7.5)


@pytest.mark.parametrize("value", ["zero", "0", "-2", "1.5"])
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ACCORD_LOCAL_THREADS", value)
    with pytest.raises(ModelSpecError, match="ACCORD_LOCAL_THREADS"):
        LocalSettings.from_env()


def test_accord_home_defaults_to_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCORD_HOME", raising=False)
    assert accord_home().name == "accord"
