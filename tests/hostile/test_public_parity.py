"""Public benchmark tasks are scored exactly as mteb scores them (issue 12, "Public benchmarks").

Each test writes a local copy of one public task in the exact layout its public loader reads
(hub configs and parquet files: several subsets, query ids equal to document ids, cluster
sets), then scores it twice with the same embeddings:

* mteb 2.26.24's own task class (``mteb.get_task(name)`` pointed at the copy, ``task.evaluate``);
* domainteb end to end: ``build_public_task`` → ``evaluate_task`` → the result JSON on disk.

Every metric both report must agree within 1e-4, per split *and* per hf_subset; the result file
must hold one entry per hf_subset under the split (mteb's layout), ``main_score()`` must be the
mean over subsets, and the file must not claim that mteb wrote it. Embeddings come from the
3-layer MiniLM (``minilm-l3``), computed once per distinct text and served to both sides.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from domainteb.core.results import read_result
from domainteb.domains.public import build_public_task
from domainteb.domains.public.availability import hub_reachable
from domainteb.domains.public.catalog import public_task_info
from domainteb.eval.runner import evaluate_task

mteb = pytest.importorskip("mteb")
pytestmark = pytest.mark.slow

TOL = 1e-4


# ---------------------------------------------------------------- layout writers (hub repo layout)
def parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)


def readme(folder: Path, configs: dict[str, dict[str, str]]) -> None:
    """README.md with a ``configs`` block, as multi-config hub dataset repos have."""
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        for split, pattern in splits.items():
            lines += [f"  - split: {split}", f"    path: {pattern}"]
    lines.append("---")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# Real sentences (public-health, chemistry and clinical phrasing), varied enough to rank and cluster.
FACTS = [
    ("How is measles spread?", "Measles spreads through the air when an infected person coughs or sneezes."),
    ("Can adults get the flu vaccine every year?", "Adults should receive an influenza vaccine each autumn."),
    ("What are the symptoms of dengue fever?", "Dengue causes high fever, severe headache and pain behind the eyes."),
    ("How long should I wash my hands?", "Scrub your hands with soap for at least twenty seconds."),
    ("Is tuberculosis curable?", "Tuberculosis is curable with a six month course of antibiotics."),
    ("What does a malaria bed net do?", "Insecticide treated nets stop mosquitoes from biting at night."),
    ("Who should be screened for hepatitis C?", "Every adult should be tested for hepatitis C at least once."),
    ("How does cholera spread?", "Cholera spreads through water contaminated with faeces."),
    ("Why is rabies dangerous?", "Rabies is almost always fatal once symptoms appear."),
    ("What lowers the risk of heat stroke?", "Drink water often and rest in the shade during heat waves."),
    ("When do babies get the polio vaccine?", "Infants receive polio vaccine doses at two, four and six months."),
    ("What is the incubation period of Ebola?", "Ebola symptoms appear two to twenty one days after exposure."),
]
CHEM = [
    ("ethanol", "CCO", "Ethanol is a volatile flammable alcohol used as a solvent."),
    ("benzene", "c1ccccc1", "Benzene is an aromatic hydrocarbon with a six carbon ring."),
    ("acetic acid", "CC(=O)O", "Acetic acid gives vinegar its sour taste."),
    ("methane", "C", "Methane is the simplest alkane and the main part of natural gas."),
    ("phenol", "Oc1ccccc1", "Phenol is a mildly acidic aromatic alcohol."),
    ("acetone", "CC(C)=O", "Acetone is a common ketone solvent in nail polish remover."),
    ("toluene", "Cc1ccccc1", "Toluene is a methyl substituted benzene used in paints."),
    ("glycerol", "OCC(O)CO", "Glycerol is a sweet viscous triol found in lipids."),
    ("formaldehyde", "C=O", "Formaldehyde is a reactive aldehyde used in resins."),
    ("urea", "NC(N)=O", "Urea is the main nitrogen waste product of mammals."),
]
TOPICS = {
    "organic": ["Alkenes undergo electrophilic addition reactions.", "Esters form when carboxylic acids react with alcohols.",
                "Grignard reagents add to carbonyl groups.", "Aromatic rings resist addition and favour substitution.",
                "Chiral centres give rise to enantiomers.", "Aldol condensation joins two carbonyl compounds."],
    "inorganic": ["Transition metals form coloured coordination complexes.", "Ligand field theory explains d orbital splitting.",
                  "Zeolites are porous aluminosilicate minerals.", "Lanthanides show a steady contraction in ionic radius.",
                  "Noble gases rarely form compounds.", "Ammonia acts as a ligand towards copper ions."],
    "physical": ["Entropy measures the dispersal of energy in a system.", "Reaction rates rise with temperature per Arrhenius.",
                 "The Schrodinger equation describes electron wavefunctions.", "Gibbs free energy predicts spontaneity.",
                 "Raoult's law relates vapour pressure to mole fraction.", "Spectroscopy probes transitions between energy levels."],
}


# ---------------------------------------------------------------- one model, identical embeddings on both sides
class MemoEncoder:
    """domainteb ``Encoder`` over minilm-l3 that embeds each distinct text once (shared with mteb's side)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = "minilm-l3-parity"
        self.revision = inner.revision
        self.rows: dict[str, np.ndarray] = {}

    def lookup(self, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if new:
            emb = np.asarray(self.inner.encode(new, batch_size=64), dtype=np.float32)
            self.rows.update(zip(new, emb))
        return np.stack([self.rows[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def encode(self, texts, *, prompt_type=None, task_name=None, batch_size=32, show_progress=False) -> np.ndarray:
        return self.lookup(list(texts))

    def model_info(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision}


@pytest.fixture(scope="module")
def memo() -> MemoEncoder:
    from domainteb.eval.models import load_model

    return MemoEncoder(load_model("minilm-l3", device="cpu", cache=False))


@pytest.fixture(scope="module")
def mteb_model(memo: MemoEncoder) -> Any:
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    class MemoWrapper(SentenceTransformerEncoderWrapper):
        def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str, prompt_type: Any = None, **kw: Any):
            return memo.lookup([t for batch in inputs for t in batch["text"]])

    return MemoWrapper(memo.inner.model)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub-cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets-cache"))
    # datasets reads the variable at import: patch its config too, or a same-named copy from
    # another test is served from ~/.cache/huggingface/datasets (mteb's side reads it directly)
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")
    monkeypatch.delenv("DOMAINTEB_HF_DATA", raising=False)
    hub_reachable.cache_clear()


# ---------------------------------------------------------------- the two scorers and the comparison
def mteb_scores(name: str, folder: Path, model: Any, subsets: list[str] | None = None) -> dict[str, dict[str, dict]]:
    """split → hf_subset → mteb's scores dict, from mteb's own task class on the local copy."""
    task = mteb.get_task(name)
    task.metadata = task.metadata.model_copy(update={"dataset": {**task.metadata.dataset, "path": str(folder)}})
    if subsets:
        task.hf_subsets = list(subsets)
    task.load_data()
    out = {}
    for split in task.metadata.eval_splits:
        out[split] = {sub: dict(s) for sub, s in task.evaluate(model, split, encode_kwargs={"batch_size": 32}).items()}
    return out


def domainteb_result(name: str, folder: Path, memo: MemoEncoder, out: Path, subsets: list[str] | None = None) -> tuple[Any, dict]:
    task = build_public_task(public_task_info(name), local_path=folder, subsets=subsets)
    result, path, _ = evaluate_task(task, memo, output_dir=out)
    return read_result(path), json.loads(path.read_text(encoding="utf-8"))


def num(value: Any) -> float:
    """A metric as float; JSON null (how NaN is written) reads as NaN."""
    return math.nan if value is None else float(value)


def assert_parity(result: Any, raw: dict, theirs: dict[str, dict[str, dict]], must_have: set[str]) -> None:
    assert raw["mteb_version"] is None, "domainteb wrote this file, not mteb"
    assert raw["domainteb"]["produced_by"]["tool"] == "domainteb"
    assert set(raw["scores"]) == set(theirs), "one score list per split, keyed by the split name only"
    for split, by_subset in theirs.items():
        entries = raw["scores"][split]
        assert sorted(e["hf_subset"] for e in entries) == sorted(by_subset), split
        for entry in entries:
            ref = by_subset[entry["hf_subset"]]
            shared = {k for k, v in ref.items() if k in entry and isinstance(v, (int, float)) and not isinstance(v, bool)}
            assert must_have <= shared, f"{split}/{entry['hf_subset']}: missing {sorted(must_have - shared)}"
            bad = {
                k: (entry[k], ref[k]) for k in sorted(shared)
                if not (math.isnan(num(entry[k])) and math.isnan(num(ref[k])))
                and not abs(num(entry[k]) - num(ref[k])) <= TOL
            }
            assert not bad, f"{split}/{entry['hf_subset']}: domainteb vs mteb differ: {bad}"
        mean = float(np.mean([s["main_score"] for s in by_subset.values()]))
        assert abs(result.main_score(split) - mean) <= TOL, "task score = mean over hf_subsets, as mteb"
        if len(by_subset) > 1:  # per-item data for the reported (mean) score, so the report's CIs cover it
            from domainteb.eval.items import full_statistic, resample_statistic

            items = raw["domainteb"]["items"][split]
            assert items["statistic"] == "subset_mean" and [s["name"] for s in items["subsets"]] == list(
                raw["domainteb"]["task_metadata"]["params"]["hf_subsets"])
            assert abs(full_statistic(items) - result.main_score(split)) <= 1e-9
            draw = np.random.default_rng(0).integers(0, len(items["ids"]), len(items["ids"]))
            assert 0.0 <= resample_statistic(items, draw) <= 1.0
    first = next(iter(theirs))
    assert abs(result.main_score() - result.main_score(first)) < 1e-12


RANKING = {"ndcg_at_10", "map_at_1000", "mrr_at_10", "recall_at_1", "recall_at_100", "precision_at_3", "main_score"}


# ---------------------------------------------------------------- retrieval: several subsets (languages)
def test_retrieval_multi_subset_publichealthqa(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    folder = tmp_path / "publichealth-qa"
    subsets = {"english": FACTS, "french": [(f"Question : {q}", f"Réponse : {a}") for q, a in FACTS[:9]],
               "spanish": [(f"Pregunta: {q}", a) for q, a in FACTS[3:]]}
    for lang, rows in subsets.items():
        parquet(folder / lang / "test-00000-of-00001.parquet",
                [{"question": q, "answer": a} for q, a in rows] + [{"question": None, "answer": "unanswered"}])
    readme(folder, {lang: {"test": f"{lang}/*.parquet"} for lang in subsets})
    langs = list(subsets)
    theirs = mteb_scores("PublicHealthQA", folder, mteb_model, langs)
    result, raw = domainteb_result("PublicHealthQA", folder, memo, tmp_path / "out", langs)
    assert_parity(result, raw, theirs, RANKING)
    langs_of = {e["hf_subset"]: e["languages"] for e in raw["scores"]["test"]}
    assert langs_of == {"english": ["eng-Latn"], "french": ["fra-Latn"], "spanish": ["spa-Latn"]}


# ---------------------------------------------------------------- retrieval: query ids equal document ids
def write_beir(folder: Path, n: int = 10) -> None:
    """BEIR on the hub (mteb/nfcorpus): query i and document i share the id ``str(i)``."""
    parquet(folder / "corpus" / "corpus-00000-of-00001.parquet",
            [{"_id": str(i), "title": "", "text": a} for i, (_, a) in enumerate(FACTS[:n])]
            + [{"_id": f"x{i}", "title": "Note", "text": t} for i, (_, _, t) in enumerate(CHEM)])
    parquet(folder / "queries" / "queries-00000-of-00001.parquet", [{"_id": str(i), "text": q} for i, (q, _) in enumerate(FACTS[:n])])
    # each query's relevant document is the NEXT one (so the identical id is a distractor), grade 2 or 1
    parquet(folder / "data" / "test-00000-of-00001.parquet",
            [{"query-id": str(i), "corpus-id": str((i + 1) % n), "score": 2 - i % 2} for i in range(n)]
            + [{"query-id": str(i), "corpus-id": str(i), "score": 0} for i in range(0, n, 3)])
    readme(folder, {"corpus": {"corpus": "corpus/*.parquet"}, "queries": {"queries": "queries/*.parquet"},
                    "default": {"test": "data/test-*.parquet"}})


@pytest.mark.parametrize("ignore_identical", [False, True])
def test_retrieval_identical_ids_follow_the_mteb_task_class(
    tmp_path: Path, memo: MemoEncoder, mteb_model: Any, monkeypatch: pytest.MonkeyPatch, ignore_identical: bool
) -> None:
    """``ignore_identical_ids`` and ``k_values`` are read from mteb's task class, whatever it says."""
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    cls = type(mteb.get_task("NFCorpus"))
    monkeypatch.setattr(cls, "ignore_identical_ids", ignore_identical)
    monkeypatch.setattr(cls, "k_values", (1, 2, 5, 10, 1000))
    assert issubclass(cls, AbsTaskRetrieval)
    folder = tmp_path / "nfcorpus"
    write_beir(folder)
    theirs = mteb_scores("NFCorpus", folder, mteb_model)
    result, raw = domainteb_result("NFCorpus", folder, memo, tmp_path / "out")
    assert_parity(result, raw, theirs, {"ndcg_at_2", "recall_at_5", "map_at_1000", "mrr_at_10", "main_score"})
    settings = raw["domainteb"]["settings"]["test"]
    assert settings["ignore_identical_ids"] is ignore_identical and settings["k_values"] == [1, 2, 5, 10, 1000]


# ---------------------------------------------------------------- reranking (top_ranked candidates)
def test_reranking_cmedqav2(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    folder = tmp_path / "cmedqa"
    docs = [a for _, a in FACTS] + [t for _, _, t in CHEM]
    parquet(folder / "corpus" / "test-00000-of-00001.parquet", [{"id": f"d{i}", "text": t} for i, t in enumerate(docs)])
    parquet(folder / "queries" / "test-00000-of-00001.parquet", [{"id": f"q{i}", "text": q} for i, (q, _) in enumerate(FACTS)])
    cands = {f"q{i}": [f"d{(i + j * 5) % len(docs)}" for j in range(5)] for i in range(len(FACTS))}
    parquet(folder / "top_ranked" / "test-00000-of-00001.parquet", [{"query-id": q, "corpus-ids": c} for q, c in cands.items()])
    parquet(folder / "data" / "test-00000-of-00001.parquet",
            [{"query-id": q, "corpus-id": d, "score": int(d == f"d{q[1:]}")} for q, c in cands.items() for d in c])
    readme(folder, {"corpus": {"test": "corpus/*.parquet"}, "queries": {"test": "queries/*.parquet"},
                    "top_ranked": {"test": "top_ranked/*.parquet"}, "default": {"test": "data/*.parquet"}})
    theirs = mteb_scores("CMedQAv2-reranking", folder, mteb_model)
    result, raw = domainteb_result("CMedQAv2-reranking", folder, memo, tmp_path / "out")
    assert_parity(result, raw, theirs, RANKING - {"recall_at_100"})
    assert raw["domainteb"]["settings"]["test"]["reranking"] is True


# ---------------------------------------------------------------- classification
def test_classification_sds_gloves(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    rows = [{"text": t, "label": lab} for lab, ts in enumerate(TOPICS.values()) for t in ts]
    rows += [{"text": a, "label": 3} for _, a in FACTS[:6]]
    train = [r for i, r in enumerate(rows) if i % 3]
    test = [r for i, r in enumerate(rows) if not i % 3]
    folder = tmp_path / "gloves"
    parquet(folder / "data" / "train-00000-of-00001.parquet", train)
    parquet(folder / "data" / "test-00000-of-00001.parquet", test)
    theirs = mteb_scores("SDSGlovesClassification", folder, mteb_model)
    result, raw = domainteb_result("SDSGlovesClassification", folder, memo, tmp_path / "out")
    assert_parity(result, raw, theirs, {"accuracy", "f1", "f1_weighted", "precision", "recall", "main_score"})


# ---------------------------------------------------------------- clustering: per cluster set (legacy) and bootstrap (v2)
def test_clustering_per_cluster_set_chemteb(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    """ChemTEB's Wikipedia clustering is mteb's legacy class: k-means per cluster set, v-measure averaged."""
    names = list(TOPICS)
    sets = [
        {"sentences": TOPICS["organic"] + TOPICS["inorganic"], "labels": ["organic"] * 6 + ["inorganic"] * 6},
        {"sentences": TOPICS["physical"][:4] + TOPICS["organic"][:4] + TOPICS["inorganic"][:3],
         "labels": ["physical"] * 4 + ["organic"] * 4 + ["inorganic"] * 3},
        {"sentences": [s for n in names for s in TOPICS[n][4:]], "labels": [n for n in names for _ in TOPICS[n][4:]]},
        {"sentences": TOPICS["physical"][:3], "labels": ["physical"] * 3},  # one label: scored 1.0 as mteb
    ]
    folder = tmp_path / "wiki-clustering"
    parquet(folder / "data" / "test-00000-of-00001.parquet", sets)
    theirs = mteb_scores("WikipediaChemistryTopicsClustering", folder, mteb_model)
    result, raw = domainteb_result("WikipediaChemistryTopicsClustering", folder, memo, tmp_path / "out")
    assert_parity(result, raw, theirs, {"v_measure", "v_measure_std", "main_score"})
    assert raw["domainteb"]["settings"]["test"]["clustering_protocol"] == "per_cluster_set"
    assert len(raw["domainteb"]["items"]["test"]["values"]) == len(sets)


def test_clustering_bootstrap_medrxiv_v2(
    tmp_path: Path, memo: MemoEncoder, mteb_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MedrxivClusteringS2S.v2 is mteb 2's fast clustering: embed 4 % of the rows, bootstrap k-means
    (sample size lowered on mteb's class to keep the test fast: domainteb must pick that up too)."""
    monkeypatch.setattr(type(mteb.get_task("MedrxivClusteringS2S.v2")), "max_documents_per_cluster", 64)
    sentences = [f"{s} (note {k})" for k in range(6) for ts in TOPICS.values() for s in ts]
    labels = [lab for _ in range(6) for lab, ts in TOPICS.items() for _ in ts]
    half = len(sentences) // 2
    sets = [{"sentences": sentences[:half], "labels": labels[:half]}, {"sentences": sentences[half:], "labels": labels[half:]}]
    folder = tmp_path / "medrxiv"
    parquet(folder / "data" / "test-00000-of-00001.parquet", sets)
    theirs = mteb_scores("MedrxivClusteringS2S.v2", folder, mteb_model)
    result, raw = domainteb_result("MedrxivClusteringS2S.v2", folder, memo, tmp_path / "out")
    assert_parity(result, raw, theirs, {"v_measure", "v_measure_std", "main_score"})
    settings = raw["domainteb"]["settings"]["test"]
    assert settings["clustering_protocol"] == "bootstrap" and settings["max_documents_per_cluster"] == 64
    assert settings["max_fraction_of_documents_to_embed"] == 0.04


# ---------------------------------------------------------------- pair classification: several subsets (languages)
def test_pair_classification_multi_subset_pubchemwiki(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    folder = tmp_path / "pubchem-wiki-pc"
    langs = {"de": "Deutsch", "fr": "Français", "es": "Español"}
    for k, (lang, word) in enumerate(langs.items()):
        rows = []
        for i, (name, _, text) in enumerate(CHEM):
            j = (i + k + 1) % len(CHEM)
            match = (i + k) % 2 == 0
            rows.append({"sent1": f"{word}: {text}", "sent2": CHEM[i if match else j][2], "labels": int(match)})
        parquet(folder / lang / "test-00000-of-00001.parquet", rows)
    readme(folder, {lang: {"test": f"{lang}/*.parquet"} for lang in langs})
    theirs = mteb_scores("PubChemWikiPairClassification", folder, mteb_model, list(langs))
    result, raw = domainteb_result("PubChemWikiPairClassification", folder, memo, tmp_path / "out", list(langs))
    keys = {f"{f}_{m}" for f in ("cosine", "euclidean", "manhattan", "dot") for m in ("accuracy", "f1", "ap")}
    assert_parity(result, raw, theirs, keys | {"max_ap", "max_f1", "main_score"})


# ---------------------------------------------------------------- bitext mining: several subsets (column variants)
def test_bitext_multi_subset_pubchem_smiles(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    folder = tmp_path / "smiles"
    cols = {"iso-title": ("title", "isomeric_smiles"), "iso-desc": ("description", "isomeric_smiles"),
            "canon-title": ("title", "canonical_smiles"), "canon-desc": ("description", "canonical_smiles")}
    for subset, (a, b) in cols.items():
        rows = [{a: (name if a == "title" else text), b: smiles + ("" if subset.startswith("canon") else " ")}
                for name, smiles, text in CHEM]
        parquet(folder / subset / "test-00000-of-00001.parquet", rows)
    readme(folder, {s: {"test": f"{s}/*.parquet"} for s in cols})
    theirs = mteb_scores("PubChemSMILESBitextMining", folder, mteb_model)
    result, raw = domainteb_result("PubChemSMILESBitextMining", folder, memo, tmp_path / "out")
    assert_parity(result, raw, theirs, {"f1", "precision", "recall", "accuracy", "main_score"})
    assert len(raw["scores"]["test"]) == 4


# ---------------------------------------------------------------- FinMTEB (not in mteb): mteb's abstract classes as the oracle
def test_finmteb_clustering_is_scored_per_cluster_set(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    """FinMTEB's clustering rows are cluster sets scored by mteb 1's protocol = mteb 2's legacy class."""
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
    from mteb.abstasks.task_metadata import TaskMetadata as MtebMetadata
    from mteb.mocks.mock_tasks.retrieval import general_args

    sets = [
        {"sentences": TOPICS["organic"] + TOPICS["physical"], "labels": ["a"] * 6 + ["p"] * 6},
        {"sentences": [a for _, a in FACTS[:5]] + [t for _, _, t in CHEM[:5]], "labels": ["health"] * 5 + ["chem"] * 5},
    ]
    folder = tmp_path / "complaints"
    parquet(folder / "data" / "test-00000-of-00001.parquet", sets)
    result, raw = domainteb_result("ComplaintsClustering", folder, memo, tmp_path / "out")

    meta = MtebMetadata(type="Clustering", name="FinParityClustering", main_score="v_measure", **dict(general_args))
    data = DatasetDict({"test": Dataset.from_list(sets)})

    def load_data(self: Any, **kwargs: Any) -> None:
        self.dataset, self.data_loaded = data, True

    oracle = type("FinParityClustering", (AbsTaskClusteringLegacy,), {"metadata": meta, "load_data": load_data})()
    theirs = {"test": {sub: dict(s) for sub, s in oracle.evaluate(mteb_model, "test", encode_kwargs={"batch_size": 32}).items()}}
    assert_parity(result, raw, theirs, {"v_measure", "v_measure_std", "main_score"})
    assert raw["domainteb"]["settings"]["test"]["clustering_protocol"] == "per_cluster_set"


def mteb_oracle(base: type, type_: str, main: str, dataset: Any, split: str = "test", **attrs: Any) -> Any:
    """An mteb task of class ``base`` (mteb's own scoring) over ``dataset`` — for FinMTEB, which mteb lacks."""
    from mteb.abstasks.task_metadata import TaskMetadata as MtebMetadata
    from mteb.mocks.mock_tasks.retrieval import general_args

    meta = MtebMetadata(type=type_, name=f"FinParity{type_}", main_score=main, **{**dict(general_args), "eval_splits": [split]})

    def load_data(self: Any, **kwargs: Any) -> None:
        self.dataset, self.data_loaded = dataset, True

    return type(f"FinParity{type_}", (base,), {"metadata": meta, "load_data": load_data, **attrs})()


def oracle_scores(task: Any, model: Any, split: str = "test") -> dict[str, dict[str, dict]]:
    return {split: {sub: dict(s) for sub, s in task.evaluate(model, split, encode_kwargs={"batch_size": 32}).items()}}


def test_finmteb_sts(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.sts import AbsTaskSTS

    rows = [{"sentence1": q, "sentence2": a if i % 3 else FACTS[(i + 4) % len(FACTS)][1], "score": round(1 - (i % 3 == 0) * 0.8 - i / 60, 3)}
            for i, (q, a) in enumerate(FACTS)]
    folder = tmp_path / "FinSTS"
    parquet(folder / "data" / "test-00000-of-00001.parquet", rows)
    result, raw = domainteb_result("FinSTS", folder, memo, tmp_path / "out")
    oracle = mteb_oracle(AbsTaskSTS, "STS", "cosine_spearman", DatasetDict({"test": Dataset.from_list(rows)}), min_score=0, max_score=1)
    assert_parity(result, raw, oracle_scores(oracle, mteb_model), {"cosine_spearman", "cosine_pearson", "euclidean_spearman", "main_score"})


def test_finmteb_pair_classification_one_row_layout(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.pair_classification import AbsTaskPairClassification

    s1 = [t for _, _, t in CHEM]
    s2 = [CHEM[i][2] if i % 2 else CHEM[(i + 3) % len(CHEM)][2] for i in range(len(CHEM))]
    labels = [i % 2 for i in range(len(CHEM))]
    folder = tmp_path / "PDD"
    parquet(folder / "data" / "test-00000-of-00001.parquet", [{"sent1": s1, "sent2": s2, "labels": labels}])
    result, raw = domainteb_result("HeadlinePDDPairClassification", folder, memo, tmp_path / "out")
    data = DatasetDict({"test": Dataset.from_list([{"sentence1": s1, "sentence2": s2, "labels": labels}])})
    oracle = mteb_oracle(AbsTaskPairClassification, "PairClassification", "max_ap", data)
    assert_parity(result, raw, oracle_scores(oracle, mteb_model), {"max_ap", "cosine_ap", "dot_f1", "main_score"})


def test_finmteb_retrieval_train_split(tmp_path: Path, memo: MemoEncoder, mteb_model: Any) -> None:
    """FinMTEB retrieval scores the BEIR ``train`` split; mteb's own BEIR loader reads the same copy."""
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalDatasetLoader

    folder = tmp_path / "FiQA"
    write_beir(folder)
    (folder / "data" / "test-00000-of-00001.parquet").rename(folder / "data" / "train-00000-of-00001.parquet")
    readme(folder, {"corpus": {"corpus": "corpus/*.parquet"}, "queries": {"queries": "queries/*.parquet"},
                    "default": {"train": "data/train-*.parquet"}})
    result, raw = domainteb_result("FiQA2018Retrieval", folder, memo, tmp_path / "out")
    split_data = RetrievalDatasetLoader(hf_repo=str(folder), revision=None, split="train").load()  # type: ignore[arg-type]
    oracle = mteb_oracle(AbsTaskRetrieval, "Retrieval", "ndcg_at_10", {"default": {"train": split_data}}, split="train")
    assert_parity(result, raw, oracle_scores(oracle, mteb_model, "train"), RANKING)


def test_finmteb_reranking_query_positive_negative_rows(
    tmp_path: Path, memo: MemoEncoder, mteb_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FinMTEB's (query, positive[], negative[]) rows, scored by mteb's own old-format reranking transform."""
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.text import reranking

    docs = [a for _, a in FACTS]
    rows = [{"query": q, "positive": [docs[i]], "negative": [docs[(i + k) % len(docs)] + f" (case {i})" for k in (1, 4, 7)]}
            for i, (q, _) in enumerate(FACTS)]
    folder = tmp_path / "FinFact"
    parquet(folder / "data" / "test-00000-of-00001.parquet", rows)
    result, raw = domainteb_result("FinFactReranking", folder, memo, tmp_path / "out")
    monkeypatch.setattr(reranking, "OLD_FORMAT_RERANKING_TASKS", [*reranking.OLD_FORMAT_RERANKING_TASKS, "FinParityReranking"])
    given = DatasetDict({"test": Dataset.from_list(rows)})

    class Oracle(reranking.AbsTaskReranking):
        metadata = mteb_oracle(reranking.AbsTaskReranking, "Reranking", "map_at_1000", None).metadata

        def load_data(self, **kwargs: Any) -> None:
            self.transform_old_dataset_format(given_dataset=given)
            self.data_loaded = True

    assert_parity(result, raw, oracle_scores(Oracle(), mteb_model), RANKING - {"recall_at_100"})
