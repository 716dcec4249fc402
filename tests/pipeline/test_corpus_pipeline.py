"""`domainteb pipeline corpus=... eval_task=...` on a tiny real BEIR dev set (a slice of
../shared/devsets/medical_covidqa): killed with SIGKILL inside every step in turn, each rerun
resumes, the last one finishes; a further rerun skips every step. The evaluation task's
queries never reach the training data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domainteb.cli import main

DEVSET = Path("/work/shared/devsets/medical_covidqa")
for _parent in Path(__file__).resolve().parents:
    if (_parent / "shared" / "devsets" / "medical_covidqa").is_dir():
        DEVSET = _parent / "shared" / "devsets" / "medical_covidqa"
        break
STEPS = ("corpus", "queries", "adapt", "eval", "report", "leaderboard")


def make_beir_slice(dest: Path, n_queries: int = 10, n_distractors: int = 30) -> Path:
    """A small BEIR folder: the first queries, their gold passages and some distractors."""
    if not DEVSET.is_dir():
        pytest.skip("../shared/devsets/medical_covidqa is not available")
    (dest / "qrels").mkdir(parents=True)
    queries = [json.loads(x) for x in (DEVSET / "queries.jsonl").read_text(encoding="utf-8").splitlines()][:n_queries]
    ids = {q["_id"] for q in queries}
    lines = (DEVSET / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    rel = [x for x in lines[1:] if x.split("\t")[0] in ids]
    gold = {x.split("\t")[1] for x in rel}
    corpus = [json.loads(x) for x in (DEVSET / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    keep = [c for c in corpus if c["_id"] in gold] + [c for c in corpus if c["_id"] not in gold][:n_distractors]
    (dest / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in keep), encoding="utf-8")
    (dest / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (dest / "qrels" / "test.tsv").write_text("\n".join([lines[0], *rel]) + "\n", encoding="utf-8")
    return dest


def pipeline_args(beir: Path) -> list[str]:
    return [
        "pipeline", "domain=medical", f"corpus={beir}", f"eval_task={beir}", "base=minilm-l3", "baselines=[bm25]",
        "recipe=finetune", "n_passages=40", "work_dir=work", "mlflow.enabled=false",
        "corpus_finetune_overrides=['adapt.eval_task=null','adapt.max_steps=4','adapt.batch_size=4','adapt.save_steps=2','adapt.eval_steps=2']",
        "report_overrides=['n_boot=100']",
    ]


def _running(work: Path, steps: tuple[str, ...]) -> str | None:
    """The first of `steps` whose work folder exists without its done.json (the step is running)."""
    for step in steps:
        if any(not (d / "done.json").exists() for d in work.glob(f"{step}-*")):
            return step
    return None


@pytest.mark.slow
def test_kill_9_in_every_step_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    beir = make_beir_slice(tmp_path / "covid_slice")
    cmd = [sys.executable, "-m", "domainteb.cli", *pipeline_args(beir)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    work = tmp_path / "work"
    killed: list[str] = []
    i = 0
    while i < len(STEPS):
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        deadline = time.monotonic() + 240
        running = None
        while proc.poll() is None and running is None and time.monotonic() < deadline:
            running = _running(work, STEPS[i:])
            time.sleep(0.002)
        if proc.poll() is None:
            if running == "adapt":
                time.sleep(3.0)  # mid-training
            os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait()
        # a step that finishes between two polls is caught in the step after it
        assert rc == -signal.SIGKILL, (STEPS[i], rc, proc.stderr.read().decode()[-2000:] if proc.stderr else "")
        killed.append(running)
        # steps before the killed one are finished and stay finished
        for earlier in STEPS[: STEPS.index(running)]:
            assert any((d / "done.json").is_file() for d in work.glob(f"{earlier}-*")), (running, earlier)
        i = STEPS.index(running) + 1
    # the steps that run long enough to be caught are each killed once (the quick ones may run between two polls)
    assert {"adapt", "eval"} <= set(killed) and len(killed) == len(set(killed)), killed
    monkeypatch.chdir(tmp_path)  # the last resume and the rerun run in-process (same code path as the CLI)
    assert main(pipeline_args(beir)) == 0
    for step in STEPS:
        assert [json.loads((d / "done.json").read_text()) for d in work.glob(f"{step}-*") if (d / "done.json").exists()]
    # outputs are complete and parse: chunks, queries, model, results, report, site
    chunks = [json.loads(x) for x in next(work.glob("corpus-*/corpus/chunks.jsonl")).read_text().splitlines()]
    assert len(chunks) == 40 and all(set(c) == {"_id", "title", "text", "doc_id"} for c in chunks)
    queries = [json.loads(x) for x in next(work.glob("queries-*/queries/ict.jsonl")).read_text().splitlines()]
    assert queries and all(q["generator"] == "ict" and q["pid"] in {c["_id"] for c in chunks} for q in queries)
    name = "minilm-l3-covid_slice-finetune"
    for model in (name, "minilm-l3", "bm25"):
        result = json.loads((tmp_path / "results" / model / "covid_slice.json").read_text())
        assert result["scores"]["test"][0]["main_score"] >= 0
    assert (tmp_path / "results" / "report" / name / "report.md").is_file()
    assert (tmp_path / "site" / "index.html").is_file()
    capsys.readouterr()
    assert main(pipeline_args(beir)) == 0
    again = capsys.readouterr().out
    for step in STEPS:
        assert f"{step}: up to date" in again, again


def test_eval_queries_never_reach_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A corpus folder that also holds the eval queries (as documents, and inside a passage): the corpus
    step drops the query documents by id and by text, the queries step drops ICT queries equal to one."""
    from omegaconf import OmegaConf

    from domainteb.corpus.stage import run as corpus_run
    from domainteb.pipeline.queries import run as queries_run

    beir = make_beir_slice(tmp_path / "beir", n_queries=5, n_distractors=5)
    evalq = [json.loads(x) for x in (beir / "queries.jsonl").read_text().splitlines()]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "corpus.jsonl").write_bytes((beir / "corpus.jsonl").read_bytes())
    leaked = [{"_id": evalq[0]["_id"], "text": "some unrelated text with the query's id"},          # by id
              {"_id": "copy-1", "text": evalq[1]["text"]},                                        # by text
              {"_id": "mixed", "text": f"Coronaviruses are enveloped viruses with a large RNA genome. {evalq[2]['text']} "
                                       "They cause respiratory infections in many mammals and birds."}]
    (docs / "leaked.jsonl").write_text("".join(json.dumps(d) + "\n" for d in leaked), encoding="utf-8")
    out = tmp_path / "c"
    assert corpus_run(OmegaConf.create({"corpus": str(docs), "base": "minilm-l3", "eval_task": str(beir),
                                        "output_dir": str(out), "seed": 3})) == 0
    chunks = [json.loads(x) for x in (out / "corpus" / "chunks.jsonl").read_text().splitlines()]
    ids = {c["doc_id"] for c in chunks}
    assert evalq[0]["_id"] not in ids and "copy-1" not in ids and "mixed" in ids
    assert json.loads((out / "corpus" / "report.json").read_text())["excluded_eval_queries"] == 2
    qout = tmp_path / "q"
    assert queries_run(OmegaConf.create({"generator": "ict", "chunks": str(out / "corpus" / "chunks.jsonl"), "seed": 3,
                                         "queries_per_passage": 20, "eval_task": str(beir), "output_dir": str(qout)})) == 0
    generated = [json.loads(x)["query"] for x in (qout / "queries" / "ict.jsonl").read_text().splitlines()]
    assert generated and not any(q["text"].strip() in g for q in evalq for g in generated)
    assert json.loads((qout / "queries" / "report.json").read_text())["rejected_eval_query_overlap"] >= 1
    # without eval_task the same sentence would have been a training query: the check above is not vacuous
    free = tmp_path / "q2"
    assert queries_run(OmegaConf.create({"generator": "ict", "chunks": str(out / "corpus" / "chunks.jsonl"), "seed": 3,
                                         "queries_per_passage": 20, "eval_task": None, "output_dir": str(free)})) == 0
    assert any(evalq[2]["text"].strip() in json.loads(x)["query"] for x in (free / "queries" / "ict.jsonl").read_text().splitlines())


@pytest.mark.parametrize(("override", "message"), [
    ("generator=t5", "generator='t5'"), ("profile=tpu", "profile='tpu'"), ("domain=law", "domain='law'"),
    ("n_passages=0", "n_passages=0"), ("eval_task=./no/such/folder", "eval_task=./no/such/folder"),
])
def test_bad_pipeline_settings_exit_2(override: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.jsonl").write_text('{"_id": "a", "text": "Aspirin inhibits COX."}\n', encoding="utf-8")
    assert main(["pipeline", "corpus=c.jsonl", "mlflow.enabled=false", override]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "outputs").exists()


def test_llm_generator_runs_the_persona_synth_over_the_chunks(tmp_path: Path) -> None:
    """generator=llm: the synth stage (medical personas, every filter) over chunks.jsonl, against a real
    loopback OpenAI-compatible server; its kept pairs become queries/llm.jsonl records."""
    from omegaconf import OmegaConf

    from domainteb.corpus.stage import run as corpus_run
    from domainteb.pipeline.queries import run as queries_run

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "synth"))
    from fault_server import FaultPlan, FaultServer

    beir = make_beir_slice(tmp_path / "beir", n_queries=3, n_distractors=6)
    out = tmp_path / "c"
    assert corpus_run(OmegaConf.create({"corpus": str(beir), "base": "minilm-l3", "output_dir": str(out), "seed": 3,
                                        "n_passages": 8})) == 0
    chunks = [json.loads(x) for x in (out / "corpus" / "chunks.jsonl").read_text().splitlines()]
    with FaultServer(FaultPlan(rate=0.0)) as server:
        cfg = OmegaConf.create({
            "generator": "llm", "chunks": str(out / "corpus" / "chunks.jsonl"), "seed": 3, "domain": "medical",
            "queries_per_passage": 2, "eval_task": str(beir), "output_dir": str(tmp_path / "q"),
            "llm": {"backend": "openai", "base_url": server.base_url, "model": "fault-model", "api_key_env": None},
            "synth_overrides": ["timeout_s=10", "llm=openai"], "inherit": {"mlflow": {"enabled": False}},
        })
        assert queries_run(cfg) == 0
        assert server.stats.requests >= len(chunks)
    queries = [json.loads(x) for x in (tmp_path / "q" / "queries" / "llm.jsonl").read_text().splitlines()]
    assert queries and {q["generator"] for q in queries} == {"llm:fault-model"}
    assert {q["pid"] for q in queries} <= {c["_id"] for c in chunks}
    report = json.loads((tmp_path / "q" / "queries" / "report.json").read_text())
    assert report["queries_kept"] == len(queries) and "few_shot_echo" in report["rejections"]
