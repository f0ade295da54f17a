"""accord.evals: offline evaluation on recorded model responses, and the example teams.

The names a user reads first; the rest (evaluator classes, scores, report pieces, errors) live
in the submodules, e.g. `accord.evals.evaluators`, `accord.evals.scores`, `accord.evals.errors`.
"""

from accord.evals.cassette import cassette
from accord.evals.dataset import Case, Dataset, load_dataset
from accord.evals.evaluators import Check, Judge, default_evaluators
from accord.evals.feedback import export_feedback
from accord.evals.report import print_report, write_html, write_json
from accord.evals.results import CaseResult, RunResult, load_results
from accord.evals.runner import evaluate
from accord.evals.scores import compare, scores
from accord.evals.teams import EXAMPLES

__all__ = [
    "EXAMPLES",
    "Case",
    "CaseResult",
    "Check",
    "Dataset",
    "Judge",
    "RunResult",
    "cassette",
    "compare",
    "default_evaluators",
    "evaluate",
    "export_feedback",
    "load_dataset",
    "load_results",
    "print_report",
    "scores",
    "write_html",
    "write_json",
]
