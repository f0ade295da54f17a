"""The environment variables of accord's model layer, read in one place.

| variable | meaning | default |
| --- | --- | --- |
| `ACCORD_OFFLINE` | `1`: no model server may be started or reached (tests set it) | off |
| `ACCORD_LOCAL_URL` | `http://host:port/v1` of a running OpenAI-compatible server to use as `"local"` | unset: start the embedded one |
| `ACCORD_HOME` | cache folder for the assembled weights and the server log | user cache dir |
| `ACCORD_LOCAL_THREADS` | CPU threads for the embedded server | idle cores at start (at least 1) |
| `ACCORD_LOCAL_CTX` | context tokens per concurrent request | 4096 |
| `ACCORD_LOCAL_PARALLEL` | requests the embedded server decodes at once | 2 |
| `ACCORD_LOCAL_START_TIMEOUT` | seconds to wait for the embedded server to be ready | 120 |
"""  # noqa: E501

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from accord.agents.errors import ModelSpecError, OfflineMode

_TRUE = {"1", "true", "yes", "on"}


def offline() -> bool:
    """Tells whether `ACCORD_OFFLINE` forbids starting or reaching model servers."""
    return os.environ.get("ACCORD_OFFLINE", "").strip().lower() in _TRUE


def require_online(what: str) -> None:
    """Raises `OfflineMode` naming `what` when offline mode is on."""
    if offline():
        raise OfflineMode(
            f"offline mode is on (ACCORD_OFFLINE=1), so accord will not {what}. Use a "
            f"ScriptedModel or recorded responses, or unset ACCORD_OFFLINE to allow it."
        )


def accord_home() -> Path:
    """Returns the folder accord caches large files in: `$ACCORD_HOME` or the user cache dir."""
    configured = os.environ.get("ACCORD_HOME", "").strip()
    return Path(configured).expanduser() if configured else platformdirs.user_cache_path("accord")


def local_url() -> str | None:
    """Returns `ACCORD_LOCAL_URL`, the running server that stands in for `"local"`, if set."""
    url = os.environ.get("ACCORD_LOCAL_URL", "").strip()
    return url.rstrip("/") or None


@dataclass(frozen=True)
class LocalSettings:
    """How the embedded llama.cpp server is run.

    Attributes:
        threads: CPU threads for prompt processing and generation.
        ctx: Context tokens available to each concurrent request.
        parallel: Requests decoded at once (continuous batching slots).
        start_timeout: Seconds to wait for the server to load the model and answer `/health`.
        home: Cache root holding `models/` and `logs/`.
    """

    threads: int
    ctx: int = 4096
    parallel: int = 2
    start_timeout: float = 120.0
    home: Path = Path()

    @classmethod
    def from_env(cls) -> LocalSettings:
        """Reads the settings from the `ACCORD_LOCAL_*` variables and `ACCORD_HOME`.

        Raises:
            ModelSpecError: A variable is set to something that is not a positive number.
        """
        return cls(
            threads=int(_positive("ACCORD_LOCAL_THREADS", default_threads())),
            ctx=int(_positive("ACCORD_LOCAL_CTX", 4096)),
            parallel=int(_positive("ACCORD_LOCAL_PARALLEL", 2)),
            start_timeout=_positive("ACCORD_LOCAL_START_TIMEOUT", 120.0),
            home=accord_home(),
        )


def default_threads() -> int:
    """The embedded server's threads unless `ACCORD_LOCAL_THREADS` says: the idle cores.

    Idle means the usable cores less the 1-minute load average, rounded, and at least 1.
    Measured with the 1.5B model on 2 cores: idle (load 1.2-1.5), `accord run credit` took
    29.0 s with 2 threads and 60.9 s with 1; shared (load 4-6), 1 thread kept 5.6-7.3
    tokens/s where 2 threads fell to 0.8-9.7, because llama.cpp's threads wait for each other
    at every step and one of them is always preempted.
    """
    cores = _usable_cores()
    try:
        busy = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))


def _usable_cores() -> int:
    # A container's CPU set is smaller than the host's count; use what this process may run on.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw) if isinstance(default, float) else int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ModelSpecError(f"{name} must be a positive number, got {raw!r}; unset it or fix it")
    return value
