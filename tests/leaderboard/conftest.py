"""Fixtures for the leaderboard tests (result folders from the report tests' factory)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from results_factory import make_results_dir  # noqa: E402


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return make_results_dir(tmp_path / "results")


@pytest.fixture
def board_dir(tmp_path: Path) -> Path:
    from board_factory import make_board_results

    return make_board_results(tmp_path / "board")


@pytest.fixture(scope="session")
def mteb_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Results written by mteb itself: ``mteb.evaluate`` with the real 3-layer MiniLM on mteb's
    own tiny mock STS and retrieval tasks (unknown to mteb's registry), plus a ChatDoctorRetrieval result
    saved through mteb's ResultCache (known to the registry). Returns mteb's results folder."""
    import mteb
    from mteb.cache import ResultCache
    from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask
    from mteb.mocks.mock_tasks.sts import MockSTSTask
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from mteb.results import TaskResult
    from sentence_transformers import SentenceTransformer

    from board_factory import MINILM_L3

    from domainteb.eval.models.build import materialize
    from domainteb.eval.models.spec import get_spec

    cache = tmp_path_factory.mktemp("mteb")
    model = SentenceTransformerEncoderWrapper(SentenceTransformer(str(materialize(get_spec("minilm-l3"))), device="cpu"))
    model.mteb_model_meta = model.mteb_model_meta.model_copy(update={"name": MINILM_L3, "revision": "l3-onnx", "n_parameters": 17_389_824})
    mteb.evaluate(model, [MockSTSTask(), MockRetrievalTask()], cache=ResultCache(cache_path=cache),
                  prediction_folder=cache / "results" / "predictions", show_progress_bar=False)
    scifact = TaskResult(
        dataset_revision="r0", task_name="ChatDoctorRetrieval", mteb_version=mteb.__version__, evaluation_time=1.0,
        scores={"test": [{"main_score": 0.52, "ndcg_at_10": 0.52, "hf_subset": "default", "languages": ["eng-Latn"]}]},
    )
    ResultCache(cache_path=cache).save_to_cache(scifact, model.mteb_model_meta)
    return cache / "results"
