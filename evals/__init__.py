"""accord.evals: offline evaluation on recorded model responses (see the evaluation issue)."""

from accord.agents import FaultServerError
from accord.agents.testing.faults import Faults, FaultServer
from accord.agents.testing.upstreams import Answer, Upstream, canned, proxy, replay
from accord.evals.cassette import MissingRecording, cassette
from accord.evals.dataset import AnswerChecks, Case, Dataset, DatasetError, load_dataset
from accord.evals.evaluators import (
    AgentPath,
    Budget,
    Check,
    Confidence,
    ContainsAnswer,
    Decision,
    Evaluator,
    ExactAnswer,
    Judge,
    MaxLatency,
    MaxSteps,
    RegexAnswer,
    RoutingChoice,
    Verdict,
    default_evaluators,
)
from accord.evals.report import html_report, print_report, write_html, write_json
from accord.evals.results import CaseResult, ResultsError, RunResult, load_results
from accord.evals.runner import evaluate
from accord.evals.scores import Delta, RunScores, Scores, compare, score, scores
from accord.evals.teams import EXAMPLES, ExampleSpec, onboarding, onboarding_team
from accord.evals.trace import Trace

__all__ = [
    "EXAMPLES",
    "AgentPath",
    "Answer",
    "AnswerChecks",
    "Budget",
    "Case",
    "CaseResult",
    "Check",
    "Confidence",
    "ContainsAnswer",
    "Dataset",
    "DatasetError",
    "Decision",
    "Delta",
    "Evaluator",
    "ExactAnswer",
    "ExampleSpec",
    "FaultServer",
    "FaultServerError",
    "Faults",
    "Judge",
    "MaxLatency",
    "MaxSteps",
    "MissingRecording",
    "RegexAnswer",
    "ResultsError",
    "RoutingChoice",
    "RunResult",
    "RunScores",
    "Scores",
    "Trace",
    "Upstream",
    "Verdict",
    "canned",
    "cassette",
    "compare",
    "default_evaluators",
    "evaluate",
    "html_report",
    "load_dataset",
    "load_results",
    "onboarding",
    "onboarding_team",
    "print_report",
    "proxy",
    "replay",
    "score",
    "scores",
    "write_html",
    "write_json",
]
