"""Datasets: shipped files load; malformed ones name the file and the line or case and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.evals import load_dataset
from accord.evals.errors import DatasetError

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"


def test_shipped_datasets_cover_the_example_workflows() -> None:
    loaded = [load_dataset(path) for path in sorted(DATASETS.glob("*.yaml"))]
    examples = {case.example for dataset in loaded for case in dataset.cases}
    assert {"onboarding", "tech_support", "project", "credit", "finance"} <= examples
    assert sum(len(dataset.cases) for dataset in loaded) >= 20


def test_yaml_case_is_typed(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(
        "name: mine\ncases:\n"
        "  - id: a\n    example: finance\n    input: hello\n"
        "    route: fraud\n    answer: {contains: card, regex: '(?i)x'}\n    max_calls: 3\n"
        "  - id: b\n    example: onboarding\n    input: [one, two]\n"
    )
    dataset = load_dataset(path)
    first, second = dataset.cases
    assert dataset.name == "mine"
    assert first.input == ("hello",)
    assert first.answer.contains == ("card",)
    assert first.pattern == "routed"
    assert second.input == ("one", "two")
    assert dataset.cassette(second) == tmp_path / "d.yaml.cassettes" / "b.yaml"


def test_jsonl_names_the_line_of_a_bad_case(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"id": "a", "example": "finance", "input": "hi"}\n\n'
        '{"id": "b", "example": "finance", "input": "hi", "max_steps": -1}\n'
    )
    with pytest.raises(DatasetError, match=r"d\.jsonl:3 \(b\): field 'max_steps'"):
        load_dataset(path)


def test_jsonl_names_the_line_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "example": "finance", "input": "hi"}\n{"id": \n')
    with pytest.raises(DatasetError, match=r"d\.jsonl:2: not valid JSON"):
        load_dataset(path)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("{id: a, example: nowhere, input: hi}", r"case 1 \(a\): field 'example': .*unknown"),
        ("{id: a, example: finance}", r"case 1 \(a\): field 'input': Field required"),
        ("{id: a, example: finance, input: hi, colour: red}", r"field 'colour'"),
        ("{id: a, example: finance, input: hi, answer: {regex: '('}}", r"field 'answer.regex'"),
        ("{id: 'a b', example: finance, input: hi}", r"field 'id'"),
        ("just text", r"case 1: a case must be a mapping"),
    ],
)
def test_yaml_names_the_case_index_and_field(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(f"- {{id: ok, example: finance, input: hi}}\n- {case}\n")
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def test_duplicate_ids_and_bad_files_are_refused(tmp_path: Path) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text(
        "- {id: a, example: finance, input: x}\n- {id: a, example: credit, input: y}\n"
    )
    with pytest.raises(DatasetError, match="'a' appears twice"):
        load_dataset(twice)
    broken = tmp_path / "broken.yaml"
    broken.write_text("cases: [\n")
    with pytest.raises(DatasetError, match="not valid YAML"):
        load_dataset(broken)
    with pytest.raises(DatasetError, match="no dataset file"):
        load_dataset(tmp_path / "absent.yaml")
    other = tmp_path / "d.csv"
    other.write_text("id\n")
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_dataset(other)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(DatasetError, match="expected a list of cases"):
        load_dataset(scalar)


def test_a_bare_name_finds_the_shipped_dataset() -> None:
    assert load_dataset("finance").path == DATASETS / "finance.yaml"
    shipped = "or the name of a shipped dataset: conversation, credit, finance"
    with pytest.raises(DatasetError, match=shipped):
        load_dataset("nothing")
