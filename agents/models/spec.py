"""The grammar of model ids: provider, model, endpoint, key source and time limits.

```
local[:small][?<limits>]
openai:<model>[@<base URL>][?key_env=<VARIABLE>][&<limits>]
ollama:<model>[@<base URL>][?<limits>]
```

`<limits>` are `connect=`, `first_byte=` and `total=` in seconds, joined by `&`
(`"openai:gpt-4o?first_byte=60&total=120"`). An id that names its endpoint
(`"openai:qwen@http://gpu-2:8080/v1"`) sends a key only from the environment variable that
`key_env` names: a key meant for one server never goes to another, and no key is ever written
in an id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from accord.agents.errors import ModelSpecError, UnknownModelId
from accord.agents.models.timeouts import LIMITS, Timeouts

MODEL_ID_FORMS = (
    '"local" (the embedded model)',
    '"local:small" (the smaller, faster embedded model)',
    '"openai:<model>" (OpenAI, or any OpenAI-compatible server with base_url=... or '
    "OPENAI_BASE_URL)",
    '"openai:<model>@<base URL>" (that server, e.g. "openai:qwen@http://host:8080/v1"; its API '
    'key from the variable named by "?key_env=NAME", no key otherwise)',
    '"ollama:<model>" or "ollama:<model>@<base URL>" (a model pulled into Ollama)',
    'any of these with time limits in seconds, e.g. "openai:gpt-4o?first_byte=60&total=120" '
    "(connect, first_byte, total)",
    "a LangChain BaseChatModel instance, e.g. ScriptedModel([...])",
)

PROVIDERS = ("local", "openai", "ollama")

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRETS = {"key", "api_key", "apikey", "token", "secret", "password"}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model id.

    Attributes:
        provider: `local`, `openai` or `ollama`.
        name: The model's name (for `local`, its variant: empty or `small`).
        base_url: The endpoint the id names, or None for the provider's usual one.
        key_env: The environment variable holding the API key, or None.
        limits: Time limits the id sets, by name (`connect`, `first_byte`, `total`).
    """

    provider: str
    name: str = ""
    base_url: str | None = None
    key_env: str | None = None
    limits: Mapping[str, float] = field(default_factory=dict)

    def timeouts(self, defaults: Timeouts) -> Timeouts:
        """`defaults` with the limits this id sets."""
        return defaults.with_(**self.limits)


def parse_model_id(spec: str) -> ModelSpec:
    """Reads a model id (see `MODEL_ID_FORMS`).

    Raises:
        UnknownModelId: The id has no known provider.
        ModelSpecError: The model name is empty, the endpoint is not an http(s) URL, or an
            option is unknown, repeated, not a positive number, or looks like a secret.
    """
    text = spec.strip()
    head, asked, query = text.partition("?")
    head = head.strip()
    if head == "local" or head.startswith("local:"):
        limits, _ = _options(spec, "local", query if asked else "")
        return ModelSpec("local", head.partition(":")[2].strip(), limits=limits)
    provider, sep, rest = head.partition(":")
    if not sep or provider not in PROVIDERS or provider == "local":
        raise UnknownModelId(unknown(repr(spec)))
    name, at, url = (part.strip() for part in rest.partition("@"))
    if not name:
        raise ModelSpecError(f"model id {spec!r} names no model; write e.g. '{provider}:<model>'")
    base_url = _endpoint(spec, url) if at else None
    limits, key_env = _options(spec, provider, query)
    return ModelSpec(provider, name, base_url, key_env, limits)


def unknown(spec: str) -> str:
    """The message of `UnknownModelId` for `spec`, listing the forms that work."""
    return f"unknown model id {spec}; use one of: " + "; ".join(MODEL_ID_FORMS)


def _endpoint(spec: str, url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ModelSpecError(
            f"model id {spec!r} names the endpoint {url!r}, which is not an http(s) URL; write "
            f"e.g. 'openai:qwen@http://host:8080/v1'. Forms: " + "; ".join(MODEL_ID_FORMS)
        )
    return url.rstrip("/")


def _options(spec: str, provider: str, query: str) -> tuple[dict[str, float], str | None]:
    allowed = (*LIMITS, "key_env") if provider == "openai" else LIMITS
    limits: dict[str, float] = {}
    key_env: str | None = None
    for pair in filter(None, (p.strip() for p in query.split("&"))):
        key, equals, value = (part.strip() for part in pair.partition("="))
        if key.lower() in _SECRETS:
            raise ModelSpecError(
                f"model id {spec!r} holds a {key!r}: never write a key in a model id (ids are "
                f"logged and stored); put it in an environment variable and name that with "
                f"'?key_env=NAME'"
            )
        if key not in allowed or not equals:
            raise ModelSpecError(
                f"model id {spec!r} has the option {pair!r}; {provider} ids take "
                f"{', '.join(k + '=' for k in allowed)}. Forms: " + "; ".join(MODEL_ID_FORMS)
            )
        if key in limits or (key == "key_env" and key_env is not None):
            raise ModelSpecError(f"model id {spec!r} sets {key!r} twice; keep one")
        if key == "key_env":
            if not _VARIABLE.match(value):
                raise ModelSpecError(
                    f"model id {spec!r}: key_env must name an environment variable (letters, "
                    f"digits, '_'), got {value!r}"
                )
            key_env = value
            continue
        try:
            limits[key] = float(value)
        except ValueError:
            raise ModelSpecError(
                f"model id {spec!r}: {key} must be a number of seconds, got {value!r}"
            ) from None
    Timeouts().with_(**limits)  # refuses zero, negative and infinite limits, saying why
    return limits, key_env
