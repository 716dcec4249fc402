"""The lexical baseline: BM25 search ranks the right document first; TF-IDF vectors."""

from __future__ import annotations

import numpy as np

from domainteb.core.encoder import Encoder, SearchModel
from domainteb.eval.models import load_model

CORPUS = {
    "fin": {"title": "Goodwill", "text": "The company recorded a goodwill impairment charge in the fourth quarter."},
    "med": {"title": "", "text": "Empagliflozin reduced hospitalization for heart failure in adults."},
    "chem": {"title": "Coupling", "text": "The Suzuki-Miyaura coupling of aryl bromides used a palladium catalyst."},
    "misc": {"title": "", "text": "Quarterly revenue grew while the charge for inventory stayed flat."},
}
QUERIES = {
    "q1": "goodwill impairment charge",
    "q2": "heart failure hospitalization empagliflozin",
    "q3": "palladium catalyst coupling",
    "q4": "the of and",  # stop words only: no tokens, no results
}


def test_bm25_ranks_the_relevant_document_first() -> None:
    model = load_model("bm25")
    assert isinstance(model, SearchModel) and isinstance(model, Encoder)
    assert type(model).__name__ == "LexicalModel"  # never wrapped in the embedding cache
    hits = model.search(CORPUS, QUERIES, top_k=2)
    assert max(hits["q1"], key=hits["q1"].get) == "fin"
    assert max(hits["q2"], key=hits["q2"].get) == "med"
    assert max(hits["q3"], key=hits["q3"].get) == "chem"
    assert hits["q4"] == {}
    assert all(len(h) <= 2 for h in hits.values())
    assert list(hits["q1"].values()) == sorted(hits["q1"].values(), reverse=True)


def test_bm25_reranks_only_the_candidates() -> None:
    model = load_model("bm25")
    hits = model.search(CORPUS, {"q1": QUERIES["q1"]}, top_k=10, candidates={"q1": ["misc", "med", "gone"]})
    assert set(hits["q1"]) == {"misc", "med"}
    assert hits["q1"]["misc"] > hits["q1"]["med"] == 0.0  # "charge" matches misc only


def test_tfidf_vectors_are_normalised_and_fitted_once_per_task() -> None:
    model = load_model("bm25")
    train = ["interest rates rose", "rates fell sharply", "aspirin lowers fever", "fever and cough"]
    x = model.encode(train, task_name="Clf")
    assert x.dtype == np.float32 and x.shape[0] == 4
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    test = model.encode(["rates rose", "zebra"], task_name="Clf")  # same vocabulary as the first call
    assert test.shape[1] == x.shape[1]
    assert np.linalg.norm(test[1]) == 0.0  # unseen words only
    assert float(test[0] @ x[0]) > float(test[0] @ x[2])
    info = model.model_info()
    assert info["labels"] == ["lexical"] and info["revision"] == model.revision


def test_tfidf_reduces_huge_vocabularies_with_svd() -> None:
    from domainteb.eval.models.lexical import LexicalModel

    model = LexicalModel(max_dense_dim=10, svd_dim=3)
    texts = [f"word{i} word{i + 1} shared{i % 3}" for i in range(12)]
    out = model.encode(texts, task_name="Clu")
    assert out.shape == (12, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
