"""GPL's dense hard-negative miner through domainteb's search backends: on a tiny real corpus it mines
exactly what sentence-transformers' ``mine_hard_negatives`` (the previous implementation) mines, in
memory-bounded corpus chunks; the source passage (and its duplicate texts) is never a negative; every
negative passes the relative-margin guard; bad search settings are one-line config errors."""

from __future__ import annotations

from typing import Any

import pytest

from domainteb.adapt.gpl import load_gpl_config
from domainteb.core.errors import ConfigError

from test_gpl import TINY, _one_thread, _tiny_run_dir  # noqa: E402,F401  (sibling test module: the tiny medical run folder; _one_thread is an autouse fixture)


@pytest.fixture(scope="module")
def mining_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real medical chunks (plus one chunk repeating another's text) with their ICT queries, embedded by minilm-l3."""
    from domainteb.adapt.basemodel import load_sentence_transformer
    from domainteb.adapt.gpl.data import load_inputs
    from domainteb.adapt.gpl.mining import encode
    from domainteb.corpus import Chunk, read_chunks, write_chunks

    folder = tmp_path_factory.mktemp("mining")
    chunks_path, queries_path = _tiny_run_dir(folder, n=30)
    chunks = list(read_chunks(chunks_path))
    chunks.append(Chunk(_id="dup-of-first", title="", text=chunks[0].text, doc_id="dup"))
    write_chunks(chunks_path, chunks)
    inputs = load_inputs(chunks_path, queries_path, max_queries=None, dev_queries=2, seed=3)
    model = load_sentence_transformer("minilm-l3", device="cpu")
    model.max_seq_length = 64
    pids = list(inputs.chunks)
    row = {pid: i for i, pid in enumerate(pids)}
    c_emb = encode(model, [inputs.text(p) for p in pids], "document", 16)
    q_emb = encode(model, [q.query for q in inputs.train], "query", 16)
    return {"inputs": inputs, "model": model, "row": row, "c_emb": c_emb, "q_emb": q_emb}


def _reference(inputs: Any, cfg: Any, model: Any) -> dict[str, list[str]]:
    """The previous miner: sentence_transformers.util.mine_hard_negatives over the whole corpus in memory."""
    import datasets
    from sentence_transformers.util import mine_hard_negatives

    queries = inputs.train
    pids = list(inputs.chunks)
    texts = [inputs.text(pid) for pid in pids]
    pid_of: dict[str, str] = {}
    for pid, text in zip(pids, texts):
        pid_of.setdefault(text, pid)
    qid_of = {q.query: q.qid for q in queries}
    dataset = datasets.Dataset.from_dict({"anchor": [q.query for q in queries],
                                          "positive": [inputs.text(q.pid) for q in queries]})
    mined = mine_hard_negatives(
        dataset, model, corpus=texts, range_min=cfg.range_min, range_max=cfg.candidates,
        relative_margin=cfg.relative_margin, num_negatives=cfg.negatives_per_miner, sampling_strategy="top",
        output_format="triplet", batch_size=16, use_faiss=False, verbose=False,
    )
    out: dict[str, list[str]] = {q.qid: [] for q in queries}
    for anchor, negative in zip(mined["anchor"], mined["negative"]):
        out[qid_of[anchor]].append(pid_of[negative])
    return out


def _mining(**kw: Any) -> Any:
    return load_gpl_config("cpu", {**TINY, **{f"mining.{k}": v for k, v in kw.items()}}).mining


@pytest.mark.parametrize("range_min", [0, 2])
def test_exact_search_mines_what_mine_hard_negatives_mined(mining_inputs: dict[str, Any], range_min: int) -> None:
    from domainteb.adapt.gpl.mining import mine_dense, passes_margin

    inp = mining_inputs
    # a corpus chunk of 7 rows: the corpus reaches the index in several steps
    cfg = _mining(candidates=8, negatives_per_miner=3, range_min=range_min, relative_margin=0.05,
                  search={"backend": "exact", "corpus_chunk_size": 7})
    ours, stats = mine_dense(inp["inputs"].train, inp["inputs"], cfg, inp["q_emb"], inp["c_emb"], inp["row"])
    expected = _reference(inp["inputs"], cfg, inp["model"])
    assert ours == expected
    assert stats["search"]["backend"] == "exact" and stats["mined"] == sum(len(v) for v in ours.values()) > 0

    inputs, row, q_emb, c_emb = inp["inputs"], inp["row"], inp["q_emb"], inp["c_emb"]
    for i, q in enumerate(inputs.train):
        source_text = inputs.text(q.pid)
        pos = float(q_emb[i] @ c_emb[row[q.pid]])
        scores = [float(q_emb[i] @ c_emb[row[p]]) for p in ours[q.qid]]
        assert all(inputs.text(p) != source_text for p in ours[q.qid])  # source and its duplicate text excluded
        assert all(passes_margin(s, pos, cfg.relative_margin) for s in scores)
        assert scores == sorted(scores, reverse=True)  # best first
        assert len(set(ours[q.qid])) == len(ours[q.qid])
    assert "dup-of-first" not in {p for v in ours.values() for p in v}  # one candidate per distinct text


def test_faiss_flat_backend_mines_the_same_negatives(mining_inputs: dict[str, Any]) -> None:
    pytest.importorskip("faiss")
    from domainteb.adapt.gpl.mining import mine_dense

    inp = mining_inputs
    args = (inp["inputs"].train, inp["inputs"])
    exact, _ = mine_dense(*args, _mining(candidates=8, negatives_per_miner=2), inp["q_emb"], inp["c_emb"], inp["row"])
    flat, stats = mine_dense(*args, _mining(candidates=8, negatives_per_miner=2, search={"backend": "faiss-flat"}),
                             inp["q_emb"], inp["c_emb"], inp["row"])
    assert flat == exact and stats["search"]["backend"] == "faiss-flat"


def test_default_search_keeps_the_run_and_negative_keys() -> None:
    """Exact search (whatever its chunk size) leaves GPL's run key as before the setting existed; another
    backend changes it."""
    base = load_gpl_config("cpu", TINY)
    dump = base.model_dump(exclude={"device", "profile", "allow_pickle"})
    dump["mining"].pop("search")
    assert base.identity() == dump
    assert load_gpl_config("cpu", {**TINY, "mining.search": {"corpus_chunk_size": 9}}).identity() == dump
    assert load_gpl_config("cpu", {**TINY, "mining.search": {"backend": "faiss-hnsw"}}).identity() != dump


@pytest.mark.parametrize(("search", "needle"), [
    ({"backend": "annoy"}, "gpl.mining.search"),
    ({"corpus_chunk_size": 0}, "gpl.mining.search.corpus_chunk_size"),
    ({"nprob": 4}, "gpl.mining.search.nprob is not a GPL setting"),
])
def test_bad_search_settings_are_one_line(search: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_gpl_config("cpu", {**TINY, "mining.search": search})
    assert needle in str(err.value) and "\n" not in str(err.value)

