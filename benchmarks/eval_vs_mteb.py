"""domainteb's evaluation against mteb 2.26 on the same tasks and model, in one process.

Prints, measured in this run:

* wall-time ratio domainteb / mteb (uncached domainteb run; target <= 0.5)
* overhead ratio: domainteb wall time / time spent inside the model's own ``encode`` (<= 1.10)
* cached re-run ratio: second domainteb run / first run (<= 0.05), twice: with every metric
  recomputed from cached embeddings, and as the stage re-runs (result files reused)
* the largest difference of any metric both libraries report (must be <= 1e-4)
* with ``--encode-backends``: the same uncached domainteb run once per encoding backend
  (``onnx``, ``openvino``, ``onnx-int8``, ``openvino-int8``; see ``eval/models/backends.py``), its
  wall-time ratio to mteb (which runs torch), its largest metric difference from mteb and its
  main-score change from the torch run. fp32 backends must also stay within 1e-4; int8 rows are
  labelled ``int8-quantized`` and reported only (quantisation changes the scores).

Both sides use the same sentence-transformers model object; mteb gets it through its own
``SentenceTransformerEncoderWrapper``. Task data are converted to mteb task objects before
timing starts (their conversion is not counted against mteb).

    python benchmarks/eval_vs_mteb.py --domain medical --model minilm-l3 --size tiny
    python benchmarks/eval_vs_mteb.py --devsets medical_covidqa,finance_tatqa --model minilm-l6
    python benchmarks/eval_vs_mteb.py --devsets medical_covidqa --model minilm-l6 --encode-backends torch,onnx,onnx-int8,openvino

``--devsets`` evaluates one retrieval task made of the named BEIR dev sets under
``../shared/devsets`` (read at run time): their corpora and queries joined, ids prefixed by
the set's name, so each set's passages are distractors for the other's queries.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from domainteb.core.tasks import list_tasks  # noqa: E402
from domainteb.core.types import ColumnData, RetrievalData, Task, TaskType  # noqa: E402


# ------------------------------------------------------------------ domainteb task → mteb task
def _mteb_retrieval(data: RetrievalData) -> Any:
    from datasets import Dataset
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

    return RetrievalSplitData(
        corpus=Dataset.from_list([{"id": k, "title": v.get("title") or "", "text": v["text"]} for k, v in data.corpus.items()]),
        queries=Dataset.from_list([{"id": k, "text": v} for k, v in data.queries.items()]),
        relevant_docs=data.qrels,
        top_ranked=data.top_ranked,
    )


def to_mteb(task: Task, split: str) -> Any | None:
    """An mteb task object over the same split (``None`` when mteb has no equivalent)."""
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.classification import AbsTaskClassification
    from mteb.abstasks.clustering import AbsTaskClustering
    from mteb.abstasks.pair_classification import AbsTaskPairClassification
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.abstasks.task_metadata import TaskMetadata as MtebMetadata
    from mteb.abstasks.text.bitext_mining import AbsTaskBitextMining
    from mteb.abstasks.text.summarization import AbsTaskSummarization
    from mteb.mocks.mock_tasks.retrieval import general_args

    p = task.metadata.params
    data = task.split(split)
    attrs: dict[str, Any] = {}
    t = task.type
    mteb_type = t.value
    if t in (TaskType.RETRIEVAL, TaskType.RERANKING):
        base = AbsTaskRetrieval
        dataset: Any = {"default": {split: _mteb_retrieval(data)}}
        attrs["ignore_identical_ids"] = bool(p.get("ignore_identical_ids", False))
        if "k_values" in p:
            attrs["k_values"] = tuple(p["k_values"])
    else:
        assert isinstance(data, ColumnData)
        cols = dict(data.columns)
        splits = {split: Dataset.from_dict(cols)}
        if t is TaskType.STS:
            base, attrs = AbsTaskSTS, {"min_score": p.get("min_score", 0), "max_score": p.get("max_score", 5)}
        elif t is TaskType.FIN_SUMMARIZATION:
            if "score" not in cols:
                return None
            base, mteb_type = AbsTaskSTS, "STS"
            attrs = {"min_score": p.get("min_score", 0), "max_score": p.get("max_score", 1)}
            splits = {split: Dataset.from_dict({"sentence1": cols["text"], "sentence2": cols["summary"], "score": cols["score"]})}
        elif t is TaskType.PAIR_CLASSIFICATION:
            base = AbsTaskPairClassification
        elif t is TaskType.CLASSIFICATION:
            base = AbsTaskClassification
            train = task.metadata.train_split or "train"
            splits[train] = Dataset.from_dict(dict(task.split(train).columns))
            attrs = {"train_split": train}
            for key in ("n_experiments", "samples_per_label"):
                if key in p:
                    attrs[key] = p[key]
        elif t is TaskType.CLUSTERING:
            base = AbsTaskClustering
            attrs = {"max_fraction_of_documents_to_embed": p.get("max_fraction_of_documents_to_embed")}
            for key in ("max_document_to_embed", "max_documents_per_cluster", "n_clusters", "k_mean_batch_size"):
                if key in p:
                    attrs[key] = p[key]
        elif t is TaskType.BITEXT_MINING:
            base = AbsTaskBitextMining
        elif t is TaskType.SUMMARIZATION:
            base, attrs = AbsTaskSummarization, {"min_score": p.get("min_score", 0), "max_score": p.get("max_score", 5)}
        else:
            return None
        dataset = DatasetDict(splits)
    args = {**general_args, "eval_splits": [split]}
    meta = MtebMetadata(type=mteb_type, name=task.name, main_score=task.metadata.main_score, **args)

    def load_data(self: Any, num_proc: int | None = None, **kwargs: Any) -> None:
        self.dataset = dataset
        self.data_loaded = True

    return type(f"Bench{task.name}", (base,), {"metadata": meta, "load_data": load_data, **attrs})()


DEVSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "devsets")


def devset_task(names: list[str], root: str = DEVSETS) -> Task:
    """One retrieval task joining the named dev sets (validated against the folder's listing)."""
    from domainteb.core.tasks import get_task
    from domainteb.core.types import TaskMetadata

    known = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
    corpus: dict[str, dict[str, str]] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for name in names:
        if name not in known:
            raise SystemExit(f"--devsets: unknown dev set {name!r}; known: {', '.join(known)}")
        task = get_task(os.path.join(root, name))
        data = task.split(task.metadata.eval_splits[0])
        assert isinstance(data, RetrievalData)
        corpus.update({f"{name}/{k}": v for k, v in data.corpus.items()})
        queries.update({f"{name}/{k}": v for k, v in data.queries.items()})
        qrels.update({f"{name}/{q}": {f"{name}/{d}": r for d, r in rels.items()} for q, rels in data.qrels.items()})
    joined = RetrievalData(corpus=corpus, queries=queries, qrels=qrels)
    meta = TaskMetadata(name="_".join(["devsets", *names]), type=TaskType.RETRIEVAL, main_score="ndcg_at_10", domain="general",
                        revision=str(abs(hash(tuple(names)))))
    return Task(metadata=meta, loader=lambda: {"test": joined})


# ------------------------------------------------------------------ timing helpers
class EncodeClock:
    """Wraps the model's own ``encode`` and sums the seconds spent in it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.seconds, self.texts = inner, 0.0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: Any, **kw: Any) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self.inner.encode(texts, **kw)
        finally:
            self.seconds += time.perf_counter() - start
            self.texts += len(texts)


def max_difference(ours: dict[str, float], theirs: dict[str, Any]) -> tuple[float, str]:
    worst, key = 0.0, ""
    for k, v in theirs.items():
        if k not in ours or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        a = math.nan if ours[k] is None else float(ours[k])  # NaN is stored as null
        b = float(v)
        if math.isnan(a) and math.isnan(b):
            continue
        d = abs(a - b) if not (math.isnan(a) or math.isnan(b)) else math.inf
        if d > worst:
            worst, key = d, k
    return worst, key


def run_backend(backend: str, args: argparse.Namespace, tasks: list[Task], pairs: list[tuple[Task, str, Any]],
                tmp: str) -> tuple[float, float, dict[tuple[str, str], dict[str, Any]], Any]:
    """One uncached domainteb run with ``--model`` on ``backend``: (wall, encode seconds, scores, model info)."""
    from domainteb.eval.cache import CachedEncoder
    from domainteb.eval.models import load_model
    from domainteb.eval.runner import evaluate_task
    from domainteb.eval.search import SearchSettings, use_settings

    inner = load_model(args.model, device="cpu", cache=False, backend=backend)  # export (if any) before timing
    inner.encode(["warm up"] * 4)
    clock = EncodeClock(inner)
    cached = CachedEncoder(clock, os.path.join(tmp, f"cache-{backend}"))
    scores: dict[tuple[str, str], dict[str, Any]] = {}
    start = time.perf_counter()
    for task in tasks:
        splits = [s for t, s, _ in pairs if t is task]
        if not splits:
            continue
        with use_settings(SearchSettings(backend=args.backend)):
            result, _, _ = evaluate_task(task, cached, output_dir=os.path.join(tmp, f"out-{backend}"), splits=splits,
                                         batch_size=args.batch_size, overwrite=True)
        for split in splits:
            scores[(task.name, split)] = result.scores[split][0].model_dump()
    return time.perf_counter() - start, clock.seconds, scores, inner.model_info()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", default="medical")
    ap.add_argument("--model", default="minilm-l3")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--types", default="", help="comma-separated task types (default: all)")
    ap.add_argument("--max-tasks", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--devsets", default="", help="comma-separated dev sets joined into one retrieval task")
    ap.add_argument("--backend", default="exact", help="domainteb search backend (search.backend)")
    ap.add_argument("--encode-backends", default="", help="also time domainteb on these encoding backends, e.g. "
                    "torch,onnx,onnx-int8,openvino (torch is the main run)")
    args = ap.parse_args(argv)
    encode_backends = [b.strip() for b in args.encode_backends.split(",") if b.strip()]
    if encode_backends:
        from domainteb.core.errors import ConfigError
        from domainteb.eval.models.backends import get_backend

        try:
            for b in encode_backends:
                get_backend(b)
        except ConfigError as exc:
            raise SystemExit(f"--encode-backends: {exc}") from None
    logging.basicConfig(level=logging.WARNING)

    import mteb  # noqa: F401  (imported before timing)
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    from domainteb.eval.cache import CachedEncoder
    from domainteb.eval.models import load_model
    from domainteb.eval.runner import evaluate_task

    from domainteb.eval.search import SearchSettings, use_settings

    types = [s for s in args.types.split(",") if s] or None
    if args.devsets:
        tasks = [devset_task([n for n in args.devsets.split(",") if n])]
    else:
        specs = [s for s in list_tasks(domain=args.domain, benchmark="domainteb", types=types) if not s.availability()]
        if args.max_tasks:
            specs = specs[: args.max_tasks]
        tasks = [s.build(size=args.size) for s in specs]
    for t in tasks:
        t.load()
    pairs = [(t, split, to_mteb(t, split)) for t in tasks for split in t.metadata.eval_splits]
    pairs = [p for p in pairs if p[2] is not None]
    if not pairs:
        print(f"no comparable tasks for domain={args.domain}", file=sys.stderr)
        return 1
    inner = load_model(args.model, device="cpu", cache=False)
    st_model = inner.model
    st_model.encode(["warm up"] * 4)  # first-call costs paid by neither side
    mteb_model = SentenceTransformerEncoderWrapper(st_model)
    enc_kwargs = {"batch_size": args.batch_size, "show_progress_bar": False}

    # 1) mteb
    mteb_scores: dict[tuple[str, str], dict[str, Any]] = {}
    start = time.perf_counter()
    for task, split, mt in pairs:
        mteb_scores[(task.name, split)] = dict(mt.evaluate(mteb_model, split, encode_kwargs=enc_kwargs)["default"])
    mteb_wall = time.perf_counter() - start

    # 2) domainteb, empty embedding cache, then 3) the same again from the cache
    with tempfile.TemporaryDirectory() as tmp:
        clock = EncodeClock(inner)
        cached = CachedEncoder(clock, os.path.join(tmp, "cache"))
        walls, ours = [], {}
        settings = SearchSettings(backend=args.backend)
        for run in range(3):  # 0: empty cache, 1: embeddings cached, 2: results reused (resume)
            start = time.perf_counter()
            for task in tasks:
                splits = [s for t, s, _ in pairs if t is task]
                if not splits:
                    continue
                with use_settings(settings):
                    result, _, _ = evaluate_task(
                        task, cached, output_dir=os.path.join(tmp, f"out{min(run, 1)}"), splits=splits,
                        batch_size=args.batch_size, overwrite=run < 2,
                    )
                if run == 0:
                    for split in splits:
                        ours[(task.name, split)] = result.scores[split][0].model_dump()
            walls.append(time.perf_counter() - start)
            if run == 0:
                encode_seconds = clock.seconds
    worst, worst_at = 0.0, ""
    for key, theirs in mteb_scores.items():
        d, k = max_difference(ours[key], theirs)
        if d > worst:
            worst, worst_at = d, f"{key[0]}/{key[1]}/{k}"

    where = f"dev sets {args.devsets}" if args.devsets else f"domain {args.domain}, size {args.size}"
    sizes = ", ".join(f"{t.name}: {len(t.split(s).corpus):,} passages, {len(t.split(s).queries):,} queries"
                      for t, s, _ in pairs if isinstance(t.split(s), RetrievalData))
    print(f"model {args.model}, {where}, search backend {args.backend}: {len(pairs)} task splits "
          f"({', '.join(sorted({t.type.value for t, _, _ in pairs}))}){'; ' + sizes if sizes else ''}")
    print(f"mteb wall            {mteb_wall:8.2f} s")
    print(f"domainteb wall       {walls[0]:8.2f} s   (model.encode {encode_seconds:.2f} s, {clock.texts} texts)")
    print(f"domainteb cached     {walls[1]:8.2f} s   (metrics recomputed)")
    print(f"domainteb resumed    {walls[2]:8.2f} s   (result files reused)")
    print(f"wall-time ratio domainteb/mteb      {walls[0] / mteb_wall:6.3f}   (target <= 0.5)")
    print(f"overhead ratio total/encode         {walls[0] / max(encode_seconds, 1e-9):6.3f}   (target <= 1.10)")
    print(f"cached re-run ratio                 {walls[1] / walls[0]:6.3f}   (target <= 0.05; metrics recomputed)")
    print(f"resumed re-run ratio                {walls[2] / walls[0]:6.3f}   (target <= 0.05; results reused)")
    print(f"largest score difference            {worst:.2e}   (must be <= 1e-4){'  at ' + worst_at if worst_at else ''}")
    ok = worst <= 1e-4
    if encode_backends:
        ok = backend_table(encode_backends, args, tasks, pairs, mteb_wall, mteb_scores, walls[0], worst, ours) and ok
    return 0 if ok else 2


def backend_table(backends: list[str], args: argparse.Namespace, tasks: list[Task], pairs: list[tuple[Task, str, Any]],
                  mteb_wall: float, mteb_scores: dict[tuple[str, str], dict[str, Any]], torch_wall: float,
                  torch_worst: float, torch_scores: dict[tuple[str, str], dict[str, Any]]) -> bool:
    """Time each encoding backend; print one row per backend; False if an fp32 backend misses 1e-4."""
    main_scores = {(t.name, s): t.metadata.main_score for t, s, _ in pairs}

    def main_change(scores: dict[tuple[str, str], dict[str, Any]]) -> float:
        return max(abs(float(scores[k][m]) - float(torch_scores[k][m])) for k, m in main_scores.items())

    print(f"encoding backends ({args.model}, one uncached domainteb run each; mteb runs torch):")
    print(f"  {'backend':<15} {'wall s':>8} {'encode s':>9} {'ratio/mteb':>10} {'max|d| vs mteb':>15} {'d main vs torch':>16}  labels")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            if backend == "torch":
                print(f"  {'torch':<15} {torch_wall:8.2f} {'':>9} {torch_wall / mteb_wall:10.3f} {torch_worst:15.2e} "
                      f"{0.0:16.2e}  (the main run above)")
                continue
            wall, encode_s, scores, info = run_backend(backend, args, tasks, pairs, tmp)
            worst, worst_at = 0.0, ""
            for key, theirs in mteb_scores.items():
                d, metric = max_difference(scores[key], theirs)
                if d > worst:
                    worst, worst_at = d, f"{key[0]}/{metric}"
            int8 = "int8-quantized" in info.get("labels", [])
            if not int8 and worst > 1e-4:
                ok = False
            verdict = "reported only" if int8 else ("ok" if worst <= 1e-4 else "FAIL: > 1e-4")
            print(f"  {backend:<15} {wall:8.2f} {encode_s:9.2f} {wall / mteb_wall:10.3f} {worst:15.2e} {main_change(scores):16.2e}  "
                  f"{','.join(info.get('labels', []))} ({verdict}{'; max at ' + worst_at if worst_at else ''})")
    return ok


if __name__ == "__main__":
    sys.exit(main())
