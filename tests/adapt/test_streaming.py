"""Streamed training pairs (``adapt.streaming=true``): a validating pass then lazy reading as a
``datasets.IterableDataset``; one-line errors for bad lines; max_steps required; the resume fingerprint
is the source identity (the stream is never read for it); no repeated text inside a (global) batch;
fine-tuning, the adapt stage and GAPrune retraining on a stream."""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from domainteb.adapt.finetune import FinetuneConfig, dataset_hash, train_model
from domainteb.adapt.pairs import load_pairs_with_info, stream_pairs
from domainteb.adapt.streaming import _dedup_rows, no_duplicate_batches, set_source_key
from domainteb.core.errors import ConfigError, TaskDataError

try:
    from .test_adapt_stage import _config, _pairs_file
    from .test_finetune import _cfg, _one_torch_thread, _StopAt, base_model_dir, chemistry_pairs  # noqa: F401
except ImportError:  # rootdir-style imports (tests/adapt has no __init__.py)
    from test_adapt_stage import _config, _pairs_file  # type: ignore[no-redef]
    from test_finetune import _cfg, _one_torch_thread, _StopAt, base_model_dir, chemistry_pairs  # type: ignore[no-redef]  # noqa: F401


def _write(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def _records(n: int = 12) -> list[dict[str, Any]]:
    return [{"query": f"query {i}", "positive": f"passage {i}", "negatives": [f"neg {i}a", f"neg {i}b"][: 1 + i % 2],
             "persona": ["analyst", "auditor"][i % 2], "query_type": "lookup"} for i in range(n)]


# --- reading ---------------------------------------------------------------------------------


def test_stream_has_the_in_memory_columns_rows_and_info(tmp_path: Path) -> None:
    path = _write(tmp_path / "pairs.jsonl", _records())
    ds, info = stream_pairs(path, max_negatives=2)
    mem, mem_info = load_pairs_with_info(path, max_negatives=2)
    assert ds.column_names == mem.column_names == ["anchor", "positive", "negative"]  # min over pairs: 1
    assert list(ds) == mem.to_list()
    assert (info.n_pairs, info.n_negatives, info.personas, info.query_types, info.dropped_negatives) == (
        mem_info.n_pairs, mem_info.n_negatives, mem_info.personas, mem_info.query_types, mem_info.dropped_negatives)
    limited, linfo = stream_pairs(path, 5)
    assert len(list(limited)) == linfo.n_pairs == 5


@pytest.mark.parametrize(("line", "needle"), [
    ('{"query": "q", "positive": ', "pairs.jsonl:3: malformed JSON line"),
    ('{"query": "q"}', "pairs.jsonl:3: missing field 'positive'"),
    ('{"query": "q", "positive": 7}', "pairs.jsonl:3: field 'positive' must be a string, got int"),
    ('{"query": "q", "positive": "p", "negatives": "n"}', "pairs.jsonl:3: field 'negatives' must be a list"),
    ('{"anchor": "", "positive": "p"}', "pairs.jsonl:3: field 'anchor' is empty"),
])
def test_bad_streamed_line_is_one_line_error_before_training(tmp_path: Path, line: str, needle: str) -> None:
    path = _write(tmp_path / "pairs.jsonl", [*_records(2), line, *_records(2)])
    with pytest.raises(TaskDataError) as err:
        stream_pairs(path)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_streaming_needs_a_pairs_file(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError, match=r"adapt.streaming=true reads a pairs file lazily; pass data="):
        stream_pairs(None)
    with pytest.raises(TaskDataError, match="pairs file not found"):
        stream_pairs(tmp_path / "missing.jsonl")


# --- configuration and fingerprint --------------------------------------------------------------


def test_streaming_without_max_steps_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"adapt.streaming=true .* set adapt.max_steps=") as err:
        FinetuneConfig(streaming=True).check()
    assert "\n" not in str(err.value)
    ds, _ = stream_pairs(_write(tmp_path / "pairs.jsonl", _records()))
    with pytest.raises(ConfigError, match="adapt.max_steps"):  # a stream handed to train_model directly
        train_model(None, ds, cfg=FinetuneConfig(max_steps=-1, eval_task=None), output_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="adapt.shuffle_buffer=-1"):
        FinetuneConfig(streaming=True, max_steps=2, shuffle_buffer=-1).check()
    with pytest.raises(ConfigError, match="margin_mse has no in-batch negatives"):
        FinetuneConfig(loss="margin_mse", gather_across_devices=True).check()


def test_new_settings_at_their_defaults_keep_the_training_hash() -> None:
    """Checkpoints and done.json of runs from before streaming/gathering existed stay valid."""
    from domainteb.core.io import stable_hash

    cfg = FinetuneConfig()
    old = cfg.model_dump(exclude={"eval_steps", "eval_size", "save_total_limit", "logging_steps", "device",
                                  "streaming", "shuffle_buffer", "gather_across_devices"})
    assert cfg.training_hash() == stable_hash(old)
    assert FinetuneConfig(shuffle_buffer=5).training_hash() == cfg.training_hash()  # unused without streaming
    assert FinetuneConfig(streaming=True, max_steps=3).training_hash() != FinetuneConfig(max_steps=3).training_hash()
    assert FinetuneConfig(gather_across_devices=False).training_hash() != cfg.training_hash()


def test_fingerprint_is_the_source_identity_and_never_reads_the_stream(tmp_path: Path) -> None:
    import datasets

    path = _write(tmp_path / "pairs.jsonl", _records())
    key = dataset_hash(stream_pairs(path)[0])
    other = tmp_path / "copy" / "pairs.jsonl"
    other.parent.mkdir()
    shutil.copy(path, other)
    assert dataset_hash(stream_pairs(other)[0]) == key  # same content elsewhere: same data
    _write(path, _records(13))
    assert dataset_hash(stream_pairs(path)[0]) != key
    assert dataset_hash(stream_pairs(path, 12)[0]) != dataset_hash(stream_pairs(path)[0])

    def exploding() -> Any:
        raise AssertionError("the fingerprint read the stream")
        yield  # pragma: no cover

    features = datasets.Features({"anchor": datasets.Value("string"), "positive": datasets.Value("string")})
    lazy = datasets.IterableDataset.from_generator(exploding, features=features)
    with pytest.raises(ConfigError, match="needs a source identity"):
        dataset_hash(lazy)
    assert dataset_hash(set_source_key(lazy, "my-source-v1"))


# --- batches without repeated texts ---------------------------------------------------------------


def test_regrouped_stream_has_no_repeated_text_per_global_batch() -> None:
    import datasets

    rows = [{"anchor": f"q{i}", "positive": f"p{i % 5}"} for i in range(40)]  # each positive 8 times
    features = datasets.Features({"anchor": datasets.Value("string"), "positive": datasets.Value("string")})
    ds = datasets.IterableDataset.from_generator(_gen, features=features, gen_kwargs={"rows": tuple(rows)})
    window = 4  # batch 2 × 2 ranks
    out = list(no_duplicate_batches(ds, window))
    assert Counter(r["anchor"] for r in out) == Counter(r["anchor"] for r in rows)  # nothing lost or repeated
    for start in range(0, len(out), window):
        batch = out[start : start + window]
        assert len({r["positive"] for r in batch}) == len(batch), (start, batch)
    # waiting rows that fill a whole window by themselves (a window never outgrows its size)
    rows = [{"a": f"q{i}", "p": "x" if i < 4 else "y" if i < 8 else f"u{i}"} for i in range(12)]
    assert [r["p"] for r in _dedup_rows(rows, 2, ("a", "p"))] == ["x", "y"] * 4 + ["u8", "u9", "u10", "u11"]
    rng = random.Random(0)
    for _ in range(200):  # whatever the repeats, every row comes out exactly once
        rows = [{"a": f"q{i}", "p": f"p{rng.randrange(6)}"} for i in range(rng.randint(1, 50))]
        out = list(_dedup_rows(rows, rng.randint(1, 5), ("a", "p")))
        assert sorted(r["a"] for r in out) == sorted(r["a"] for r in rows)
    # more repeats of one text than windows can hold apart: kept, in order of arrival
    crowded = list(_dedup_rows([{"a": f"q{i}", "p": "same"} for i in range(6)], 3, ("a", "p")))
    assert [r["a"] for r in crowded] == [f"q{i}" for i in range(6)]


def _gen(rows: tuple[dict[str, str], ...]) -> Any:
    yield from rows


# --- training ---------------------------------------------------------------------------------------


def _weights(model: Any) -> Any:
    import torch

    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.slow
def test_streamed_training_runs_max_steps_like_in_memory_training(tmp_path: Path) -> None:
    import datasets
    import torch

    from domainteb.adapt.basemodel import load_sentence_transformer

    cols = chemistry_pairs(40)
    path = _write(tmp_path / "pairs.jsonl", [{"query": a, "positive": p, "negative": n}
                                             for a, p, n in zip(cols["anchor"], cols["positive"], cols["negative"])])
    base = load_sentence_transformer(base_model_dir(), device="cpu")
    before = _weights(base)
    results = {}
    for name, data, cfg in (
        ("memory", datasets.Dataset.from_dict(cols), _cfg(max_steps=6)),
        ("stream", stream_pairs(path)[0], _cfg(max_steps=6, streaming=True, shuffle_buffer=16)),  # > one pass (5 batches)
    ):
        model = copy.deepcopy(base)
        results[name] = train_model(model, data, cfg=cfg, output_dir=tmp_path / name)
    mem, stream = results["memory"], results["stream"]
    assert mem.global_step == stream.global_step == 6 and stream.streaming and not mem.streaming
    assert stream.training_loss is not None and torch.isfinite(torch.tensor(stream.training_loss))
    assert [e["step"] for e in stream.log_history if "loss" in e] == [1, 2, 3, 4, 5, 6]
    emb = stream.model.encode(["benzene"], convert_to_tensor=True)
    assert emb.shape == mem.model.encode(["benzene"], convert_to_tensor=True).shape
    assert not torch.equal(_weights(stream.model), before)


@pytest.mark.slow
def test_interrupted_streamed_run_resumes_and_a_changed_file_is_refused(tmp_path: Path) -> None:
    from domainteb.adapt.basemodel import load_sentence_transformer
    from domainteb.adapt.finetune import CHECKPOINTS

    path = _pairs_file(tmp_path, 24)
    cfg = _cfg(max_steps=4, save_steps=2, save_total_limit=3, streaming=True, shuffle_buffer=8)
    with pytest.raises(KeyboardInterrupt):
        train_model(load_sentence_transformer(base_model_dir(), device="cpu"), stream_pairs(path)[0], cfg=cfg,
                    output_dir=tmp_path / "run", callbacks=[_StopAt(3)])
    assert sorted(p.name for p in (tmp_path / "run" / CHECKPOINTS).glob("checkpoint-*")) == ["checkpoint-2"]
    result = train_model(load_sentence_transformer(base_model_dir(), device="cpu"), stream_pairs(path)[0], cfg=cfg,
                         output_dir=tmp_path / "run")
    assert result.resumed_from is not None and result.resumed_from.endswith("checkpoint-2")
    assert result.global_step == 4

    with pytest.raises(KeyboardInterrupt):
        train_model(load_sentence_transformer(base_model_dir(), device="cpu"), stream_pairs(path)[0], cfg=cfg,
                    output_dir=tmp_path / "again", callbacks=[_StopAt(3)])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"query": "benzene", "positive": "C6H6"}) + "\n")
    with pytest.raises(ConfigError, match="different training config or data"):
        train_model(load_sentence_transformer(base_model_dir(), device="cpu"), stream_pairs(path)[0], cfg=cfg,
                    output_dir=tmp_path / "again")


def test_stage_refuses_streaming_without_max_steps_before_loading(tmp_path: Path) -> None:
    cfg = _config(["adapt=finetune", "domain=chemistry", f"data={_pairs_file(tmp_path, 8)}", "adapt.streaming=true",
                   "base=/nonexistent/model", f"output_dir={tmp_path / 'out'}"])
    from domainteb.adapt.stage import run

    with pytest.raises(ConfigError, match="set adapt.max_steps="):
        run(cfg)


@pytest.mark.slow
def test_stage_trains_on_a_stream_and_skips_a_finished_run(tmp_path: Path) -> None:
    from domainteb.adapt.stage import run

    out = tmp_path / "adapted"
    overrides = ["adapt=finetune", f"base={base_model_dir()}", f"data={_pairs_file(tmp_path, 24)}", "domain=chemistry",
                 f"output_dir={out}", "device=cpu", "adapt.max_steps=2", "adapt.batch_size=8",
                 "adapt.max_seq_length=32", "adapt.eval_task=null", "adapt.streaming=true", "adapt.shuffle_buffer=8",
                 "mlflow.enabled=false"]
    assert run(_config(overrides)) == 0
    done = json.loads((out / "done.json").read_text())
    assert done["streaming"] is True and done["n_pairs"] == 24 and done["global_step"] == 2
    readme = (out / "model" / "README.md").read_text()
    assert "pairs streamed from the file" in readme and "process chemist (12)" in readme
    mtime = (out / "model" / "model.safetensors").stat().st_mtime
    assert run(_config(overrides)) == 0
    assert (out / "model" / "model.safetensors").stat().st_mtime == mtime


@pytest.mark.slow
def test_gaprune_retrains_on_a_stream_with_the_mask_fixed(tmp_path: Path) -> None:
    import torch

    from domainteb.adapt.basemodel import load_sentence_transformer
    from domainteb.adapt.gaprune.masks import apply_mask
    from domainteb.adapt.gaprune.prune import PruneSettings, make_mask
    from domainteb.adapt.gaprune.retrain import retrain
    from domainteb.adapt.gaprune.targets import prunable_targets

    stream, _ = stream_pairs(_pairs_file(tmp_path, 24))
    model = load_sentence_transformer(base_model_dir(), device="cpu")
    model.max_seq_length = 32
    targets = prunable_targets(model)
    mask, _ = make_mask(targets, PruneSettings(criterion="random", sparsity=0.5, seed=1))
    apply_mask(targets, mask)
    before = {t.name: t.module.weight.detach().clone() for t in targets}
    info = retrain(model, stream, targets=targets, mask=mask, steps=4, output_dir=tmp_path / "rt", lr=1e-3,
                   batch_size=8, shuffle_buffer=8)  # 4 steps > one pass of 3 batches
    assert info["retrain_steps"] == 4.0
    for t in targets:
        w = t.module.weight.detach()
        assert torch.all(w[~mask[t.name]] == 0), t.name
        assert not torch.equal(w[mask[t.name]], before[t.name][mask[t.name]]), f"{t.name} did not train"


def test_gaprune_streaming_needs_retrain_steps_and_a_file(tmp_path: Path) -> None:
    from domainteb.adapt.gaprune.stage import _retrain_data

    try:
        from .test_gaprune import _compose
    except ImportError:
        from test_gaprune import _compose  # type: ignore[no-redef]

    data = _pairs_file(tmp_path, 8)
    cfg = _compose([f"data={data}", "domain=chemistry", "adapt.streaming=true", "retrain_steps=0"])
    with pytest.raises(ConfigError, match="set retrain_steps="):
        _retrain_data(cfg, {"domain_pool": []}, 0)
    cfg = _compose(["domain=chemistry", "adapt.streaming=true"])
    with pytest.raises(TaskDataError, match="pass data=<pairs.jsonl>"):
        _retrain_data(cfg, {"domain_pool": []}, 3)
    pool = _compose([f"data={data}", "domain=chemistry"])
    assert _retrain_data(pool, {"domain_pool": ["x"]}, 3) == (["x"], None)
    streamed, key = _retrain_data(_compose([f"data={data}", "domain=chemistry", "adapt.streaming=true"]), {}, 3)
    assert key and len(list(streamed)) == 8
