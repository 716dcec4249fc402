"""GPL end to end on a tiny real corpus: ICT pseudo-queries → BM25 + base-model negatives → the real
ms-marco cross-encoder's margins → MarginMSE on the real 3-layer MiniLM; resume after kill -9;
bad input and config; the report's BM25+CE and RRF rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domainteb.adapt.gpl import load_gpl_config, profile_names, run
from domainteb.core.errors import ConfigError, TaskDataError

REPO = Path(__file__).resolve().parents[2]
MEDICAL = REPO.parent / "shared" / "devsets" / "medical_covidqa"
TINY = {"train.max_steps": 4, "train.batch_size": 4, "train.eval_steps": 2, "train.save_steps": 2,
        "train.max_seq_length": 64, "train.logging_steps": 1, "dev.queries": 4, "dev.corpus": 16,
        "ce_max_length": 96, "ce_shard": 8, "mining.candidates": 6, "mining.negatives_per_miner": 1,
        "filters.round_trip_k": 12, "filters.ce_min_score": -20.0, "base": "minilm-l3", "device": "cpu"}


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tiny_run_dir(folder: Path, n: int = 24) -> tuple[Path, Path]:
    """Real medical passages (cut to ~70 words) as chunks, and their ICT pseudo-queries."""
    from domainteb.corpus import Chunk, write_chunks
    from domainteb.synth.pseudo_queries import generate_pseudo_queries, write_queries

    if not MEDICAL.is_dir():
        pytest.skip("../shared/devsets is not available")
    chunks = []
    with open(MEDICAL / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            chunks.append(Chunk(_id=rec["_id"], title="", text=" ".join(rec["text"].split()[:70]), doc_id=rec["_id"]))
            if len(chunks) == n:
                break
    chunks_path, queries_path = folder / "corpus" / "chunks.jsonl", folder / "queries" / "ict.jsonl"
    write_chunks(chunks_path, chunks)
    write_queries(queries_path, generate_pseudo_queries(chunks, "ict", per_passage=1, seed=1))
    return chunks_path, queries_path


def test_profiles_are_valid_and_sized() -> None:
    assert {"cpu", "gpu"} <= set(profile_names())
    gpu = load_gpl_config("gpu")
    assert gpu.max_queries >= 50_000 and gpu.train.max_steps >= 10_000 and gpu.train.precision == "bf16"
    cpu = load_gpl_config("cpu")
    assert cpu.train.precision == "fp32" and cpu.max_queries <= 2000
    assert load_gpl_config("cpu", {"train.max_steps": 7}).train.max_steps == 7


@pytest.mark.parametrize("overrides, needle", [
    ({"train.max_step": 5}, "gpl.train.max_step is not a GPL setting"),
    ({"method": "mnrl"}, "gpl.method"),
    ({"mining.miners": []}, "miners is empty"),
    ({"train.save_steps": 3, "train.eval_steps": 2}, "multiple of"),
])
def test_bad_config_is_one_line(overrides: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_gpl_config("cpu", overrides)
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="profile='tpu' is unknown"):
        load_gpl_config("tpu")


def test_queries_naming_unknown_chunks_are_refused(tmp_path: Path) -> None:
    chunks, queries = _tiny_run_dir(tmp_path, n=6)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"qid": "x", "query": "what is it", "pid": "../etc/passwd", "generator": "ict"}) + "\n")
    with pytest.raises(TaskDataError, match="not a chunk _id"):
        run(load_gpl_config("cpu", TINY), tmp_path / "out", chunks_path=chunks, queries_path=bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(TaskDataError, match="no generated queries"):
        run(load_gpl_config("cpu", TINY), tmp_path / "out", chunks_path=chunks, queries_path=empty)
    assert not (tmp_path / "out" / "model").exists()


def test_column_prompts_follow_the_evaluation_prompts() -> None:
    from types import SimpleNamespace

    from domainteb.adapt.basemodel import column_prompts

    e5_like = SimpleNamespace(prompts={"query": "query: ", "passage": "passage: "})
    assert column_prompts(e5_like, ["query", "positive", "negative", "label"]) == {
        "query": "query: ", "positive": "passage: ", "negative": "passage: "}
    bge_like = SimpleNamespace(prompts={"query": "Represent: ", "document": ""})
    assert column_prompts(bge_like, ["anchor", "positive"]) == {"anchor": "Represent: "}


@pytest.mark.slow
def test_gpl_end_to_end_with_the_real_cross_encoder(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from domainteb.adapt.basemodel import load_sentence_transformer

    chunks, queries = _tiny_run_dir(tmp_path)
    base = load_sentence_transformer("minilm-l3", device="cpu")
    base.prompts = {"query": "query: ", "document": "passage: "}  # an e5-style base: prompts must survive
    base_dir = tmp_path / "base"
    base.save(str(base_dir), safe_serialization=True)
    cfg = load_gpl_config("cpu", {**TINY, "base": str(base_dir)})
    result = run(cfg, tmp_path / "gpl", chunks_path=chunks, queries_path=queries, name="tiny-gpl", domain="medical")
    s = result.summary
    q = s["queries"]
    assert q["generated"] >= q["unique"] >= q["train_candidates"] >= q["round_trip_kept"] >= q["ce_filter_kept"] > 0
    assert q["dev_held_out"] == 4 and s["loss"] == "margin_mse" and s["global_step"] == 4
    assert s["teacher_labels"] == ["int8-dequantized", "reranker"]
    assert set(s["negatives"]["per_miner"]) == {"bm25", "base"} and s["negatives"]["training_triplets"] > 0
    assert [p["step"] for p in s["dev_curve"]][:2] == [2, 4]
    assert s["best_dev"] >= s["base_dev"]
    rows = [json.loads(line) for p in sorted((tmp_path / "gpl" / "cache").glob("ce-*/part-*.jsonl"))
            for line in p.read_text().splitlines()]
    assert rows and all(isinstance(r["pos"], float) and all(isinstance(v, float) for v in r["neg"].values()) for r in rows)
    assert len({round(r["pos"], 3) for r in rows}) > 1  # real teacher logits, not a constant
    model = SentenceTransformer(str(result.model_dir), device="cpu", local_files_only=True)
    assert model.prompts["query"] == "query: " and model.prompts["document"] == "passage: "
    assert model.max_seq_length == base.max_seq_length  # trained at 64 tokens, evaluated like its base
    manifest = json.loads((result.model_dir / "domainteb_model.json").read_text())
    assert manifest["name"] == "tiny-gpl" and "adapted" in manifest["labels"]
    assert json.loads((tmp_path / "gpl" / "dev_curve.json").read_text())["curve"] == s["dev_curve"]
    assert not (tmp_path / "gpl" / "checkpoints").exists()
    again = run(cfg, tmp_path / "gpl", chunks_path=chunks, queries_path=queries)
    assert again.summary.get("skipped") is True

    qgen = run(load_gpl_config("cpu", {**TINY, "base": str(base_dir), "method": "qgen"}), tmp_path / "qgen", chunks_path=chunks,
               queries_path=queries, cache_dir=tmp_path / "gpl" / "cache")
    assert qgen.summary["loss"] == "mnrl" and qgen.summary["pseudo_labels"]["shards_reused"] >= 1


@pytest.mark.slow
def test_resume_after_kill_9_in_training(tmp_path: Path) -> None:
    """A real ``domainteb adapt adapt=gpl`` process killed after its first checkpoint resumes there."""
    _tiny_run_dir(tmp_path)
    out = tmp_path
    args = [sys.executable, "-m", "domainteb.cli", "adapt", "adapt=gpl", "domain=medical", "base=minilm-l3",
            f"output_dir={out}", "mlflow.enabled=false", "device=cpu",
            *[f"adapt.{k}={v}" for k, v in TINY.items() if k not in ("base", "device")],
            "adapt.train.max_steps=6"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    ckpt = out / "checkpoints" / "checkpoint-2"
    while time.time() < deadline and proc.poll() is None and not (ckpt / "trainer_state.json").is_file():
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read().decode()[-2000:] if proc.stdout else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["resumed_from"] and s["resumed_from"].endswith(("checkpoint-2", "checkpoint-4"))
    assert s["pseudo_labels"]["shards_reused"] == s["pseudo_labels"]["shards"]
    assert s["global_step"] == 6 and (out / "model" / "model.safetensors").is_file()


def test_bad_gpl_cli_input_exits_2(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "domainteb.cli", "adapt", "adapt=gpl", "domain=medical", f"output_dir={tmp_path}",
            "mlflow.enabled=false"]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "chunks file not found" in done.stderr


def test_reciprocal_rank_fusion_and_hybrid_search() -> None:
    from domainteb.eval.models import load_model
    from domainteb.eval.models.fusion import reciprocal_rank_fusion

    fused = reciprocal_rank_fusion([{"a": 3.0, "b": 2.0}, {"b": 9.0, "c": 1.0}], k=60)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61) and max(fused, key=fused.get) == "b"
    hybrid = load_model("rrf:minilm-l3", device="cpu")
    corpus = {"d1": {"title": "", "text": "Coronavirus spike proteins bind the ACE2 receptor."},
              "d2": {"title": "", "text": "Bond yields rose after the central bank meeting."},
              "d3": {"title": "", "text": "Influenza vaccines are updated every season."}}
    run_ = hybrid.search(corpus, {"q": "Which receptor does the coronavirus spike bind?"}, top_k=2)
    assert list(run_["q"])[0] == "d1" and len(run_["q"]) == 2
    info = hybrid.model_info()
    assert info["name"] == "rrf-minilm-l3-bm25" and "hybrid" in info["labels"]
    ceiling = load_model("bm25-ce-rerank", device="cpu")  # BM25 top-100 → the real ms-marco cross-encoder
    ranked = ceiling.search(corpus, {"q": "Which receptor does the coronavirus spike bind?"}, top_k=3)
    assert list(ranked["q"])[0] == "d1" and set(ranked["q"]) <= set(corpus)
    assert ceiling.model_info()["depth"] == 100 and "int8-dequantized" in ceiling.model_info()["labels"]
