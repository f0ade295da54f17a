"""The embedded model's server: one llama.cpp process per Python process, started on first use.

The server runs in a child process (`worker.py`) rather than in this one: a crash in native code
costs one restart instead of the whole program, stopping it is a plain process exit with no
native threads left behind, and its memory is its own. The child serves until its stdin closes,
so it ends with its parent even when the parent is killed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from accord.agents.errors import (
    INSTALL_LOCAL,
    LocalModelNotInstalled,
    LocalServerFailed,
    UnknownModelId,
)
from accord.agents.models.environment import LocalSettings, local_url, require_online
from accord.agents.models.local import worker
from accord.agents.models.local.weights import (
    LOCAL_MODELS,
    STANDARD,
    LocalWeights,
    model_weights,
)

LOCAL_MODEL_NAME = STANDARD.name
"""The name `"local"`'s server answers to (a server serves its one model whatever is asked)."""

_POLL_S = 0.05
_STOP_GRACE_S = 10.0
_LOG_TAIL_LINES = 20

log = logging.getLogger("accord.agents.models.local")


class EmbeddedServer:
    """Runs the embedded model's llama.cpp server and hands out its OpenAI-compatible URL.

    Safe to share: `start()` may be called from many threads and `astart()` from many event
    loops at once; exactly one server process starts. A server that died is restarted on the
    next start. The process is stopped by `stop()` or at interpreter exit.

    Args:
        settings: Returns how to run the server; read at each start so that environment
            changes made before first use apply.
        model: Which embedded model it serves (default: `"local"`'s).
        weights: Returns the verified model file, assembling it if needed (default: `model`'s).
        worker: The command that runs the server process; defaults to this package's
            `worker.py` under the current interpreter. Tests pass a stand-in.
    """

    def __init__(
        self,
        *,
        settings: Callable[[], LocalSettings] = LocalSettings.from_env,
        model: LocalWeights = STANDARD,
        weights: Callable[[], Path] | None = None,
        worker: Sequence[str] | None = None,
    ) -> None:
        self.model = model
        self._settings = settings
        self._weights = weights or (lambda: model_weights(model))
        self._worker = list(worker) if worker is not None else None
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._url: str | None = None
        self._log_path: Path | None = None
        self._owner = os.getpid()
        self._stop_at_exit = False
        self.load_seconds: float | None = None
        """Seconds the last start took from spawning the process to a healthy `/health`."""

    @property
    def url(self) -> str | None:
        """The OpenAI base URL (`http://127.0.0.1:<port>/v1`) while the server runs."""
        proc, url = self._proc, self._url
        return url if proc is not None and proc.poll() is None else None

    @property
    def pid(self) -> int | None:
        """The server process id while it runs (e.g. to measure its memory)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> str:
        """Starts the server unless it runs, and returns its OpenAI base URL.

        Blocks while the weights are assembled (first run only, seconds) and the model loads.

        Raises:
            OfflineMode: `ACCORD_OFFLINE` is on.
            LocalModelNotInstalled: `xllamacpp` or the weight parts are missing.
            ModelWeightsCorrupt: The assembled weights have the wrong sha256.
            LocalServerFailed: The server exited or was not ready within the start timeout.
        """
        with self._lock:
            if (url := self.url) is not None:
                return url
            if self._proc is not None:
                log.warning(
                    "the embedded model server exited (code %s); restarting it", self._proc.poll()
                )
                self._reap()
            require_online("start the embedded model server")
            command = self._command()
            settings = self._settings()
            model = self._weights()
            self._url = self._spawn(command, settings, model)
            if not self._stop_at_exit:
                atexit.register(self.stop)
                self._stop_at_exit = True
            return self._url

    async def astart(self) -> str:
        """Like `start()`, without blocking the event loop while the server starts."""
        if (url := self.url) is not None:
            return url
        return await asyncio.to_thread(self.start)

    def stop(self) -> None:
        """Stops the server process if it runs; the next start launches a fresh one."""
        with self._lock:
            self._reap()

    def _command(self) -> list[str]:
        if self._worker is not None:
            return self._worker
        if importlib.util.find_spec("xllamacpp") is None:
            raise LocalModelNotInstalled(
                "the embedded model needs the 'xllamacpp' package (llama.cpp), which is not "
                f"installed. Install it with: {INSTALL_LOCAL}"
            )
        return [sys.executable, worker.__file__]

    def _spawn(self, command: list[str], settings: LocalSettings, model: Path) -> str:
        logs = settings.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        # Per-process names: two programs sharing one ACCORD_HOME each run their own server.
        log_path = logs / f"local-server-{os.getpid()}.log"
        address_file = logs / f"local-server-{os.getpid()}.address"
        address_file.unlink(missing_ok=True)
        argv = [
            *command,
            *("--model", str(model), "--address-file", str(address_file)),
            *("--threads", str(settings.threads), "--ctx", str(settings.ctx)),
            *("--parallel", str(settings.parallel), "--alias", self.model.name),
        ]
        log.info("starting the embedded model server (%d threads): %s", settings.threads, model)
        began = time.monotonic()
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C meant for this program must not kill the server
                # mid-request; this program stops it instead.
                start_new_session=os.name == "posix",
            )
        try:
            base = _await_ready(proc, address_file, log_path, settings.start_timeout)
        except BaseException:
            _end(proc, grace=0.0)
            raise
        finally:
            address_file.unlink(missing_ok=True)
        self._proc, self._log_path = proc, log_path
        self.load_seconds = time.monotonic() - began
        log.info("embedded model server ready at %s in %.1f s", base, self.load_seconds)
        return f"{base}/v1"

    def _reap(self) -> None:
        proc, log_path = self._proc, self._log_path
        self._proc = self._url = self._log_path = None
        if proc is None or os.getpid() != self._owner:
            # A forked child inherits the handle but not the process: it is not ours to stop.
            return
        if _end(proc, grace=_STOP_GRACE_S) == 0 and log_path is not None:
            log_path.unlink(missing_ok=True)


def _await_ready(
    proc: subprocess.Popen[bytes], address_file: Path, log_path: Path, timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    base: str | None = None
    # trust_env=False: a proxy set for the outside world must not capture loopback traffic.
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            code = proc.poll()
            if code is not None:
                raise LocalServerFailed(
                    f"the embedded model server exited with code {code} while starting. "
                    f"{_tail(log_path)}"
                )
            if base is None and address_file.is_file():
                base = address_file.read_text(encoding="utf-8").strip().rstrip("/") or None
            if base is not None and _healthy(client, base):
                return base
            if time.monotonic() > deadline:
                raise LocalServerFailed(
                    f"the embedded model server was not ready after {timeout:.0f} s; on a slow "
                    f"machine raise ACCORD_LOCAL_START_TIMEOUT. {_tail(log_path)}"
                )
            time.sleep(_POLL_S)


def _healthy(client: httpx.Client, base: str) -> bool:
    try:
        return client.get(f"{base}/health").status_code == 200
    except httpx.HTTPError:
        return False


def _end(proc: subprocess.Popen[bytes], *, grace: float) -> int:
    """Closes the server's stdin (its signal to exit), waits `grace` seconds, then kills it."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        return proc.wait(timeout=grace) if grace > 0 else _kill(proc)
    except subprocess.TimeoutExpired:
        return _kill(proc)


def _kill(proc: subprocess.Popen[bytes]) -> int:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    return proc.wait()


def _tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f"(no log at {log_path})"
    tail = "\n".join(lines[-_LOG_TAIL_LINES:]) or "(empty)"
    return f"Last lines of {log_path}:\n{tail}"


_shared = {variant: EmbeddedServer(model=model) for variant, model in LOCAL_MODELS.items()}


def embedded_server(variant: str = "") -> EmbeddedServer:
    """Returns the process-wide server that every model of `variant` shares.

    `""` serves `"local"`, `"small"` serves `"local:small"`; each starts on its first call.

    Raises:
        UnknownModelId: There is no such variant.
    """
    try:
        return _shared[variant]
    except KeyError:
        known = ", ".join(f"'local:{v}'" if v else "'local'" for v in _shared)
        raise UnknownModelId(f"no embedded model 'local:{variant}'; use one of {known}") from None


def warm_up(variant: str = "") -> float:
    """Starts the embedded model of `variant` now rather than on first use; returns the seconds.

    Returns 0 at once when `ACCORD_LOCAL_URL` names a running server instead. Raises what
    `EmbeddedServer.start()` raises.
    """
    if local_url() is not None:
        return 0.0
    began = time.monotonic()
    embedded_server(variant).start()
    return time.monotonic() - began
