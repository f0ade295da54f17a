"""The environment variables of accord's model layer, read in one place.

| variable | meaning | default |
| --- | --- | --- |
| `ACCORD_OFFLINE` | `1`: no model server may be started or reached (tests set it) | off |
| `ACCORD_LOCAL_URL` | `http://host:port/v1` of a running OpenAI-compatible server to use as `"local"` | unset: start the embedded one |
| `ACCORD_HOME` | cache folder for the assembled weights and the server log | user cache dir |
| `ACCORD_LOCAL_THREADS` | CPU threads for the embedded server | idle cores at start, sampled for 0.2 s (at least 1) |
| `ACCORD_LOCAL_CTX` | context tokens per concurrent request | 4096 |
| `ACCORD_LOCAL_PARALLEL` | requests the embedded server decodes at once | 2 |
| `ACCORD_LOCAL_START_TIMEOUT` | seconds to wait for the embedded server to be ready | 120 |
"""  # noqa: E501

from __future__ import annotations

import os
import time
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
            # Sampled only when not set: the sample takes a fraction of a second.
            threads=int(_positive("ACCORD_LOCAL_THREADS", 0) or default_threads()),
            ctx=int(_positive("ACCORD_LOCAL_CTX", 4096)),
            parallel=int(_positive("ACCORD_LOCAL_PARALLEL", 2)),
            start_timeout=_positive("ACCORD_LOCAL_START_TIMEOUT", 120.0),
            home=accord_home(),
        )


def default_threads() -> int:
    """The embedded server's threads unless `ACCORD_LOCAL_THREADS` says: the idle cores.

    Idle means the usable cores less those busy now, rounded, and at least 1. "Now" is a short
    sample of the kernel's CPU counters (`/proc/stat`, ~0.2 s) where there is one, else the
    1-minute load average: that average lags by a minute, so on an idle machine it still
    counted the `pip install` that had just finished (the lead's fresh-clone `make demo` got 1
    thread at load 0.7 and took 234 s). Measured with the 1.5B model on 2 cores: idle (load
    1.2-1.5), `accord run credit` took 29.0 s with 2 threads and 60.9 s with 1; shared (load
    4-6), 1 thread kept 5.6-7.3 tokens/s where 2 threads fell to 0.8-9.7, because llama.cpp's
    threads wait for each other at every step and one of them is always preempted.
    """
    cores = _usable_cores()
    busy = busy_cores()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except OSError:  # no load average on this platform
            busy = 0.0
    return max(1, min(cores, round(cores - busy)))


PROC_STAT = Path("/proc/stat")
SAMPLE_SECONDS = 0.2


def busy_cores(seconds: float = SAMPLE_SECONDS, stat: Path | None = None) -> float | None:
    """How many of this process's usable cores other work kept busy over the next `seconds`.

    Read from the per-CPU counters of `stat` (Linux's `/proc/stat`) twice; None where they
    cannot be read. This process sleeps meanwhile, so its own start-up is not counted.
    """
    stat = stat or PROC_STAT
    first = _cpu_times(stat)
    if not first:
        return None
    time.sleep(seconds)
    second = _cpu_times(stat)
    busy = 0.0
    for cpu, (idle, total) in second.items():
        idle0, total0 = first.get(cpu, (idle, total))
        if total > total0:
            busy += 1 - (idle - idle0) / (total - total0)
    return busy


def _cpu_times(stat: Path) -> dict[int, tuple[int, int]]:
    """(idle, total) clock ticks of each usable CPU in `stat`; empty where it cannot be read."""
    try:
        lines = stat.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    usable = _usable_cpu_ids()
    times: dict[int, tuple[int, int]] = {}
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit():
            continue
        cpu = int(name[3:])
        ticks = [int(t) for t in rest.split()[:8] if t.isdigit()]
        if len(ticks) >= 5 and (usable is None or cpu in usable):
            # idle and iowait are idle; guest time is already inside user time.
            times[cpu] = (ticks[3] + ticks[4], sum(ticks))
    return times


def _usable_cpu_ids() -> set[int] | None:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


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
