"""Encoding backends (eval/models/backends.py): the 3-layer MiniLM on ONNX Runtime and OpenVINO.

fp32 graphs must reproduce torch's embeddings and retrieval scores; int8 graphs are labelled
and keyed apart from torch; bad backend names, conflicting settings and damaged exports are
handled with one-line errors or a rebuild.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from domainteb.core.errors import ConfigError
from domainteb.eval.cache import identity_hash
from domainteb.eval.models import load_model
from domainteb.eval.models import onnx_export

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

TEXTS = [
    "What is the incubation period of COVID-19?",
    "short",
    "Masks reduce transmission of respiratory viruses in community settings. " * 6,  # truncated at 128 tokens
    "The company recorded a goodwill impairment charge in the fourth quarter.",
    "Empagliflozin reduced hospitalization for heart failure.",
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def torch_l3():
    return load_model("minilm-l3", device="cpu", cache=False)


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_fp32_backends_reproduce_torch(torch_l3, backend: str) -> None:
    model = load_model("minilm-l3", device="cpu", cache=False, backend=backend)
    for batch_size in (1, 2, 32):  # one text (no padding), mixed batches, everything at once
        ref = torch_l3.encode(TEXTS, batch_size=batch_size)
        got = model.encode(TEXTS, batch_size=batch_size)
        assert got.dtype == np.float32 and got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=1e-4)
        assert (1 - _cos(got, ref)).max() < 1e-5
    info, torch_info = model.model_info(), torch_l3.model_info()
    assert info["name"] == f"minilm-l3+{backend}" and info["encode_backend"] == backend
    assert info["revision"] == f"{torch_info['revision']}+{backend}" and backend in info["labels"]
    assert info["n_parameters"] == torch_info["n_parameters"]  # the torch weights are gone, the count is kept
    assert "int8-quantized" not in info["labels"]
    assert identity_hash(model) != identity_hash(torch_l3)  # own cache entries, even at fp32
    assert not any(True for _ in model.model.parameters())  # the HF torch model was released


@pytest.mark.parametrize("backend", ["onnx-int8", "openvino-int8"])
def test_int8_backends_are_labelled_and_keyed_apart(torch_l3, backend: str) -> None:
    model = load_model(f"minilm-l3+{backend}", device="cpu", cache=False)
    info = model.model_info()
    assert info["name"] == f"minilm-l3+{backend}" and "int8-quantized" in info["labels"]
    assert "(" + backend + ")" in info["display_name"] and info["revision"].endswith("+" + backend)
    fp32 = load_model("minilm-l3", device="cpu", cache=False, backend=backend.removesuffix("-int8"))
    assert len({identity_hash(model), identity_hash(fp32), identity_hash(torch_l3)}) == 3
    assert info["onnx_sha256"] != fp32.model_info()["onnx_sha256"]
    got, ref = model.encode(TEXTS), torch_l3.encode(TEXTS)
    cos = _cos(got, ref)
    assert (cos > 0.97).all() and (cos < 1 - 1e-6).any()  # close to fp32, but not the same vectors


def test_int8_cache_entries_never_mix_with_torch(tmp_path: Path) -> None:
    texts = TEXTS[:3]
    torch_cached = load_model("minilm-l3", device="cpu", cache_dir=tmp_path)
    a = torch_cached.encode(texts)
    int8_cached = load_model("minilm-l3", device="cpu", cache_dir=tmp_path, backend="onnx-int8")
    b = int8_cached.encode(texts)
    assert int8_cached.stats.misses == len(texts)  # nothing served from the torch rows
    assert not np.allclose(a, b, atol=1e-5)
    again = load_model("minilm-l3+onnx-int8", device="cpu", cache_dir=tmp_path)
    np.testing.assert_array_equal(again.encode(texts), b)
    assert again.stats.hits == len(texts)


def test_bad_backend_settings_fail_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"encode_backend='tensorrt' is unknown; use one of .*onnx-int8") as err:
        load_model("minilm-l3", device="cpu", cache=False, backend="tensorrt")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="names encode backend onnx but encode_backend=openvino"):
        load_model("minilm-l3+onnx", device="cpu", cache=False, backend="openvino")
    with pytest.raises(ConfigError, match="sentence-transformers models only"):
        load_model("bm25+onnx", cache=False)
    with pytest.raises(ConfigError, match="runs on the CPU, not device=cuda"):
        load_model("minilm-l3", device="cuda", cache=False, backend="onnx")
    with pytest.raises(ConfigError, match="precision=bfloat16 applies to encode_backend=torch only"):
        load_model("minilm-l3", device="cpu", cache=False, backend="onnx", precision="bfloat16")
    # a config-wide backend leaves models it cannot apply to as they are
    assert load_model("bm25", cache=False, backend="onnx").name == "bm25"
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(ConfigError, match=r"needs openvino, which is not installed; run pip install 'domainteb\[onnx\]'"):
        load_model("minilm-l3", device="cpu", cache=False, backend="openvino")


def test_damaged_export_is_detected_and_rebuilt(torch_l3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(onnx_export, "onnx_dir", lambda: tmp_path)
    model = load_model("minilm-l3", device="cpu", cache=False, backend="onnx")
    graph = model.model[0].auto_model.graph.path
    good = model.model_info()["onnx_sha256"]
    assert graph.parent.parent == tmp_path and (graph.parent / onnx_export.MANIFEST).is_file()
    data = graph.read_bytes()
    graph.write_bytes(data[: len(data) // 2])  # a truncated copy
    (tmp_path / f".{graph.parent.name}.leftover").mkdir()  # a dead writer's temporary folder is ignored
    with caplog.at_level(logging.WARNING, logger="domainteb.eval.models.onnx_export"):
        rebuilt = load_model("minilm-l3", device="cpu", cache=False, backend="onnx")
    assert "does not match its manifest" in caplog.text
    assert rebuilt.model_info()["onnx_sha256"] == good and graph.stat().st_size == len(data)
    np.testing.assert_allclose(rebuilt.encode(TEXTS), torch_l3.encode(TEXTS), atol=1e-4)
    (graph.parent / onnx_export.MANIFEST).write_text("{not json")  # a damaged manifest
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="domainteb.eval.models.onnx_export"):
        load_model("minilm-l3", device="cpu", cache=False, backend="onnx")
    assert "unusable ONNX export" in caplog.text
    assert onnx_export._load_valid(graph.parent) is not None


@pytest.mark.slow
def test_eval_scores_match_torch_and_int8_results_are_labelled(tmp_path: Path, capsys) -> None:
    from domainteb.cli import main
    from domainteb.core.results import read_result

    args = ["eval", "task=MedICD10SynonymRetrieval", "size=tiny", "mlflow.enabled=false", f"output_dir={tmp_path}"]
    assert main([*args, "model=[minilm-l3,minilm-l3+onnx,minilm-l3+onnx-int8]"]) == 0
    assert main([*args, "model=minilm-l3", "encode_backend=openvino"]) == 0  # the config key route
    results = {p.parent.name: read_result(p) for p in tmp_path.glob("*/MedICD10SynonymRetrieval.json")}
    assert set(results) == {"minilm-l3", "minilm-l3__onnx", "minilm-l3__onnx-int8", "minilm-l3__openvino"}
    torch_scores = results["minilm-l3"].scores["test"][0].model_extra
    for name in ("minilm-l3__onnx", "minilm-l3__openvino"):
        scores = results[name].scores["test"][0].model_extra
        for metric in ("ndcg_at_10", "map_at_1000", "recall_at_5", "mrr_at_10", "precision_at_3"):
            assert scores[metric] == pytest.approx(torch_scores[metric], abs=1e-4), (name, metric)
    int8 = results["minilm-l3__onnx-int8"].domainteb["model"]
    assert int8["name"] == "minilm-l3+onnx-int8" and "int8-quantized" in int8["labels"]
    assert int8["revision"] != results["minilm-l3"].domainteb["model"]["revision"]
    assert abs(results["minilm-l3__onnx-int8"].main_score() - results["minilm-l3"].main_score()) < 0.05
    assert main([*args, "model=minilm-l3", "encode_backend=bogus"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "bogus" in line]
    assert len(err) == 1 and "encode_backend='bogus' is unknown" in err[0]


@pytest.mark.slow
def test_multi_process_pool_reopens_the_session(torch_l3) -> None:
    model = load_model("minilm-l3+onnx", device="cpu", cache=False)
    texts = [f"passage {i}: " + "word " * (i % 9) for i in range(40)]
    single = model.encode(texts, batch_size=8)
    model.set_encode_devices(["cpu", "cpu"])
    try:
        pooled = model.encode(texts, batch_size=8)
    finally:
        model.close()
    np.testing.assert_allclose(pooled, single, atol=1e-6)


def test_reload_name_carries_the_backend_for_ray_actors(tmp_path: Path) -> None:
    """Ray actors reload the model by name and refuse a different identity: the name must carry the backend."""
    from domainteb.eval.models.backends import load_name, split_backend

    cached = load_model("minilm-l3", device="cpu", cache_dir=tmp_path, backend="openvino-int8")
    name = load_name("minilm-l3", cached)
    assert name == "minilm-l3+openvino-int8" and load_name(name, cached) == name
    actor_side = load_model(name, device="cpu", cache=False)
    assert identity_hash(actor_side) == cached.identity
    assert load_name("minilm-l3", load_model("minilm-l3", device="cpu", cache=False)) == "minilm-l3"
    assert split_backend("org/name@rev+onnx") == ("org/name@rev", "onnx")
    assert split_backend("my+model") == ("my+model", None)  # not a backend suffix


@pytest.mark.slow
def test_ray_actors_run_the_same_backend(tmp_path: Path) -> None:
    """engine=ray: the actors reload ``minilm-l3+onnx`` by name, pass the identity check, and
    the scores equal the local engine's."""
    ray = pytest.importorskip("ray")
    from domainteb.core.types import RetrievalData, Task, TaskMetadata, TaskType
    from domainteb.eval.engines import engine_for
    from domainteb.eval.evaluators.retrieval import evaluate_ranking
    from domainteb.eval.models.backends import load_name

    corpus = {f"d{i}": {"title": "", "text": t} for i, t in enumerate(TEXTS * 4)}
    queries = {f"q{i}": t.split(" ")[0] + " question" for i, t in enumerate(TEXTS)}
    data = RetrievalData(corpus=corpus, queries=queries, qrels={f"q{i}": {f"d{i}": 1} for i in range(len(TEXTS))})
    task = Task(metadata=TaskMetadata(name="BackendRay", type=TaskType.RETRIEVAL, main_score="ndcg_at_10"),
                loader=lambda: {"test": data})
    local = evaluate_ranking(task, "test", load_model("minilm-l3+onnx", device="cpu", cache_dir=tmp_path / "local"), data=data)
    cached = load_model("minilm-l3", device="cpu", cache_dir=tmp_path / "ray", backend="onnx")
    cfg = {"engine": "ray", "device": "cpu",
           "ray": {"address": None, "actors": 1, "batch_size": 16, "num_cpus": 2, "object_store_memory": 100 * 2**20}}
    try:
        model = engine_for(cfg)(cached, load_name("minilm-l3", cached), cfg)
        out = evaluate_ranking(task, "test", model, data=data)
    finally:
        ray.shutdown()
    assert model.remote_texts == len(set(TEXTS)) + len(set(queries.values()))
    for key, value in local.metrics.items():
        assert out.metrics[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
