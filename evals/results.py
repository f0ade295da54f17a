"""The results of an evaluation run, as objects and as the JSON document `--json` writes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.evals.errors import ResultsError
from accord.evals.evaluators import Check
from accord.evals.trace import Trace


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome.

    Attributes:
        case: The case id.
        example: The example team it ran.
        pattern: The team's collaboration pattern.
        expected_route: The routing choice the case expected, if any.
        expected_decision: The consensus decision the case expected, if any.
        trace: What the run did (empty when it raised).
        checks: The evaluators' verdicts.
        error: Why the run did not complete (`Type: message`), or None.
    """

    case: str
    example: str
    pattern: str
    expected_route: str | None
    trace: Trace
    checks: tuple[Check, ...] = ()
    error: str | None = None
    expected_decision: str | None = None

    @property
    def completed(self) -> bool:
        """The run finished without raising."""
        return self.error is None

    @property
    def passed(self) -> bool:
        """The run finished and every check held."""
        return self.completed and all(check.passed for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "case": self.case,
            "example": self.example,
            "pattern": self.pattern,
            "expected_route": self.expected_route,
            "expected_decision": self.expected_decision,
            "passed": self.passed,
            "error": self.error,
            "trace": self.trace.to_dict(),
            "checks": [check.to_dict() for check in self.checks],
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> CaseResult:
        """The result `to_dict` wrote."""
        return cls(
            case=document["case"],
            example=document["example"],
            pattern=document["pattern"],
            expected_route=document.get("expected_route"),
            trace=Trace.from_dict(document["trace"]),
            checks=tuple(Check(**check) for check in document.get("checks", ())),
            error=document.get("error"),
            expected_decision=document.get("expected_decision"),
        )


@dataclass(frozen=True)
class RunResult:
    """A whole run of a dataset.

    Attributes:
        dataset: The dataset's name.
        label: What distinguishes this run (a model, a routing strategy); default the mode.
        mode: "record" (against the model) or "replay" (from cassettes).
        cases: One result per case, in dataset order.
        unused: Recordings no request used (replay), or cassettes of no case (record).
        seconds: Wall time of the whole run here (not part of the results' identity).
    """

    dataset: str
    label: str
    mode: str
    cases: tuple[CaseResult, ...]
    unused: tuple[str, ...] = ()
    seconds: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data, with its metrics (see `accord.evals.scores`)."""
        from accord.evals.scores import scores  # scores reads runs; runs only lend it data

        return {
            "dataset": self.dataset,
            "label": self.label,
            "mode": self.mode,
            "seconds": self.seconds,
            "unused": list(self.unused),
            "scores": scores(self).to_dict(),
            "cases": [case.to_dict() for case in self.cases],
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> RunResult:
        """The run `to_dict` wrote."""
        return cls(
            dataset=document["dataset"],
            label=document["label"],
            mode=document["mode"],
            cases=tuple(CaseResult.from_dict(case) for case in document["cases"]),
            unused=tuple(document.get("unused", ())),
            seconds=float(document.get("seconds", 0.0)),
        )


def load_results(path: str | Path) -> RunResult:
    """Reads the JSON a run wrote with `--json`.

    Raises:
        ResultsError: The file is missing or is not such a document.
    """
    path = Path(path)
    try:
        return RunResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(
            f"{path} is not a results file ({type(exc).__name__}: {exc}); "
            "write one with `accord eval DATASET --json FILE`"
        ) from None
