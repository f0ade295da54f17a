"""Start-up time of the `accord` command and of `import accord...`, against `python -c pass`.

Each case runs as a fresh child process, `--runs` times (5 by default), interleaved so a change
of load hits every case alike; the median wall time and the median CPU time (the child's user +
system time) are printed, with each case's ratio to a bare interpreter measured in the same
run. The load average is printed before and after: on a busy machine the wall times grow, the
CPU times far less.

Targets (idle 2-core machine): `accord --help` <= 0.5 s; `import accord.graphs` and
`accord sessions list --db sqlite:///...` <= 1 s.
Run: `.venv/bin/python bench/startup.py [--runs N]`
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"accord --help": 0.5, "import accord.graphs": 1.0, "accord sessions list": 1.0}


def _cases(db: str) -> dict[str, list[str]]:
    python = sys.executable
    accord = str(Path(python).parent / "accord")
    return {
        "python -c pass": [python, "-c", "pass"],
        "accord --help": [accord, "--help"],
        "import accord.app": [python, "-c", "import accord.app"],
        "import accord.graphs": [python, "-c", "import accord.graphs"],
        "accord sessions list": [accord, "sessions", "list", "--db", db],
    }


def _once(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command` (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _database(folder: Path) -> str:
    """An accord database with its schema, so `sessions list` reads rather than creates."""
    from accord.persistence import SQLAlchemySaver

    url = f"sqlite:///{folder / 'sessions.sqlite'}"
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each case (default 5)")
    runs = parser.parse_args().runs
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        cases = _cases(_database(Path(folder)))
        for command in cases.values():  # warm the file cache and the bytecode once
            _once(command)
        walls: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, command in cases.items():
                wall, cpu = _once(command)
                walls[name].append(wall)
                cpus[name].append(cpu)
    load_after = os.getloadavg()

    wall0 = statistics.median(walls["python -c pass"])
    cpu0 = statistics.median(cpus["python -c pass"])
    print(f"load average before: {_load(load_before)}; after: {_load(load_after)}")
    print(f"median of {runs} runs each, in seconds; ratios to `python -c pass` in this run")
    print(f"{'case':<24}{'wall':>8}{'cpu':>8}{'wall x':>9}{'cpu x':>8}  target (idle)")
    for name in cases:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        target = TARGETS.get(name)
        goal = f"<= {target:.1f} s" if target else ""
        print(f"{name:<24}{wall:8.3f}{cpu:8.3f}{wall / wall0:9.1f}{cpu / cpu0:8.1f}  {goal}")


def _load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{value:.2f}" for value in load)


if __name__ == "__main__":
    main()
