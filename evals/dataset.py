"""Evaluation datasets: YAML or JSONL files of cases, loaded into typed objects.

A YAML dataset is a mapping with `name` and `cases` (or a bare list of cases); a JSONL dataset
has one case per line. A case names the example team it runs, the user turns it sends and what
it expects:

```yaml
name: finance
cases:
  - id: card-fraud
    example: finance
    input: Three card payments from different countries within an hour.
    route: fraud                      # the routing choice
    path: [fraud]                     # the agents that acted, in order
    decision: null                    # a consensus decision
    min_confidence: 0.5               # decision or consultation confidence
    answer: {contains: [card], regex: "(?i)fraud", never_asks: [account number]}
    max_steps: 6
    max_latency: 120                  # seconds, as measured when recorded
    max_tokens: 4000
    max_calls: 4
    judge: The answer treats the payments as possible fraud.
```
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accord.evals.errors import DatasetError
from accord.evals.teams import EXAMPLES

SHIPPED = Path(__file__).parent / "datasets"
"""The datasets accord ships for its example teams, recorded against the embedded model."""


class AnswerChecks(BaseModel):
    """Checks of the final answer's text.

    Attributes:
        exact: The whole answer, after trimming spaces.
        contains: Substrings that must all appear (case-insensitive).
        regex: A regular expression that must match somewhere (Python syntax).
        never_asks: Things the user already said (e.g. `"date of birth"`): no reply to the last
            user message may ask for them again (a question mentioning one, ignoring case).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    exact: str | None = None
    contains: tuple[str, ...] = ()
    regex: str | None = None
    never_asks: tuple[str, ...] = ()

    @field_validator("contains", "never_asks", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class Case(BaseModel):
    """One evaluation case: an example team, the user turns, and what should happen.

    Every expectation is optional; only the ones given are checked.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    example: str
    input: tuple[str, ...] = Field(min_length=1)
    path: tuple[str, ...] | None = None
    route: str | None = None
    decision: str | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    answer: AnswerChecks = AnswerChecks()
    max_steps: int | None = Field(default=None, gt=0)
    max_latency: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    max_calls: int | None = Field(default=None, gt=0)
    judge: str | None = None
    tags: tuple[str, ...] = ()

    @field_validator("input", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("example")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EXAMPLES:
            raise ValueError(f"unknown example {value!r}; choose one of: {', '.join(EXAMPLES)}")
        return str(value)

    @property
    def pattern(self) -> str:
        """The collaboration pattern of the case's example team."""
        return EXAMPLES[self.example].pattern


class Dataset(BaseModel):
    """A named list of cases read from `path`."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: Path
    cases: tuple[Case, ...]

    @property
    def cassettes(self) -> Path:
        """The folder of the per-case cassettes: `<dataset file>.cassettes/`."""
        return self.path.with_name(self.path.name + ".cassettes")

    def cassette(self, case: Case) -> Path:
        """The cassette file of one case."""
        return self.cassettes / f"{case.id}.yaml"


def load_dataset(path: str | Path) -> Dataset:
    """Reads a YAML (`.yaml`, `.yml`) or JSONL (`.jsonl`) dataset.

    Args:
        path: The file, or the bare name of a shipped dataset (`finance`, `credit`...).

    Raises:
        DatasetError: The file is missing, does not parse, or a case is malformed; the message
            names the file and the line (JSONL) or the case index and field (YAML).
    """
    path = Path(path)
    shipped = SHIPPED / f"{path.name}.yaml"
    if not path.is_file() and not path.suffix and path.parent == Path() and shipped.is_file():
        path = shipped
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.yaml")))
        raise DatasetError(
            f"no dataset file at {path}; give the path of a .yaml or .jsonl file, "
            f"or the name of a shipped dataset: {names}"
        )
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        name, cases = path.stem, _jsonl_cases(path, text)
    elif path.suffix in (".yaml", ".yml"):
        name, cases = _yaml_cases(path, text)
    else:
        raise DatasetError(f"{path}: unknown dataset format; use .yaml, .yml or .jsonl")
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise DatasetError(f"{path}: case id {case.id!r} appears twice; ids must be unique")
        seen.add(case.id)
    return Dataset(name=name, path=path, cases=tuple(cases))


def _jsonl_cases(path: Path, text: str) -> list[Case]:
    cases = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc})") from None
        cases.append(_case(document, f"{path}:{number}"))
    return cases


def _yaml_cases(path: Path, text: str) -> tuple[str, list[Case]]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: not valid YAML ({exc})") from None
    name = path.stem
    if isinstance(document, dict):
        name = str(document.get("name") or name)
        document = document.get("cases")
    if not isinstance(document, list):
        raise DatasetError(f"{path}: expected a list of cases, or a mapping with 'cases'")
    return name, [_case(item, f"{path}: case {index}") for index, item in enumerate(document)]


def _case(document: Any, where: str) -> Case:
    if not isinstance(document, dict):
        raise DatasetError(f"{where}: a case must be a mapping, got {type(document).__name__}")
    try:
        return Case.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(part) for part in error['loc']) or '?'}': {error['msg']}"
            for error in exc.errors()
        )
        case_id = document.get("id")
        named = f" ({case_id})" if isinstance(case_id, str) else ""
        raise DatasetError(f"{where}{named}: {problems}") from None
