"""Loading ChemTEB / MTEB(Medical) tasks through the installed ``mteb`` task classes.

``mteb`` applies each task's own loader and ``dataset_transform`` (renames, stratified
subsampling, flattening), so the data — and so the scores — match the published
leaderboards. Its ``task.dataset`` is then converted into domainteb's types:

* one subset (``default``): split keys stay the split names (``test``);
* several HF subsets (languages or variants): keys are ``<split>:<subset>`` (``test:en``)
  and ``metadata.params["hf_subsets"]`` lists them, like mteb's per-subset scores.
"""

from __future__ import annotations

import logging
from typing import Any

from domainteb.core.errors import DomainTebError, TaskDataError
from domainteb.core.types import SplitData, TaskMetadata, TaskType
from domainteb.domains.public.availability import DataSource
from domainteb.domains.public.catalog import PublicTaskInfo
from domainteb.domains.public.convert import cluster_set_sizes, columns_from_rows, retrieval_from_tables

log = logging.getLogger(__name__)

MTEB_PIN = "mteb==2.26.24"
#: evaluation settings of mteb task classes recorded in the task metadata when present.
_MTEB_PARAMS = (
    "n_experiments",
    "samples_per_label",
    "train_split",
    "max_fraction_of_documents_to_embed",
    "max_document_to_embed",
    "max_documents_per_cluster",
    "n_clusters",
    "k_mean_batch_size",
    "min_score",
    "max_score",
)


def mteb_missing_reason() -> str | None:
    from domainteb.core.io import find_package_dir

    if find_package_dir("mteb") is None:
        return f"the mteb library is not installed; run 'pip install {MTEB_PIN}'"
    return None


def get_mteb_task(info: PublicTaskInfo, src: DataSource | None = None, subsets: list[str] | None = None) -> Any:
    """The mteb task object for ``info``, reading from ``src`` when it is a local folder."""
    reason = mteb_missing_reason()
    if reason:
        raise DomainTebError(f"{info.name}: {reason}")
    import mteb

    task = mteb.get_task(info.name)
    if src is not None and src.local:
        dataset = {**task.metadata.dataset, "path": src.path}
        task.metadata = task.metadata.model_copy(update={"dataset": dataset})
    if subsets:
        known = list(task.hf_subsets or [])
        bad = [s for s in subsets if s not in known]
        if bad:
            raise DomainTebError(f"{info.name}: unknown subset(s) {', '.join(bad)}; known: {', '.join(known)}")
        task.hf_subsets = list(subsets)
    return task


def split_key(split: str, subset: str, multi: bool) -> str:
    return f"{split}:{subset}" if multi else split


def scoring_params(task: Any) -> dict[str, Any]:
    """Every scoring attribute of the mteb task class that domainteb's evaluators read.

    Retrieval/reranking: ``k_values``, ``ignore_identical_ids`` (``skip_first_result`` is not
    supported and refused). Classification: the logistic regression's ``max_iter``
    (cross-validation and other classifiers are refused). Bitext: ``parallel_subsets`` is refused. Clustering: ``clustering_protocol`` — ``per_cluster_set`` for
    ``AbsTaskClusteringLegacy`` (k-means on each cluster set, v-measure averaged over sets),
    else mteb 2's bootstrap protocol. Scalar settings (:data:`_MTEB_PARAMS`) are copied as is.
    """
    from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    params: dict[str, Any] = {}
    for attr in _MTEB_PARAMS:
        value = getattr(task, attr, None)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            params[attr] = value
    if isinstance(task, AbsTaskRetrieval):
        if getattr(task, "skip_first_result", False):
            raise DomainTebError(f"{task.metadata.name}: mteb's skip_first_result is not supported by domainteb's retrieval evaluator")
        params["k_values"] = [int(k) for k in task.k_values]
        params["ignore_identical_ids"] = bool(task.ignore_identical_ids)
    if task.metadata.type == "Clustering":
        params["clustering_protocol"] = "per_cluster_set" if isinstance(task, AbsTaskClusteringLegacy) else "bootstrap"
        _refuse(task, getattr(task, "max_depth", None) is not None, "hierarchical clustering (max_depth)")
    if task.metadata.type == "Classification":
        _refuse(task, bool(getattr(task, "is_cross_validation", False)), "cross-validated classification")
        clf = getattr(task, "evaluator_model", None)
        _refuse(task, clf is not None and type(clf).__name__ != "LogisticRegression", f"classifier {type(clf).__name__}")
        if clf is not None and getattr(clf, "max_iter", None) is not None:
            params["max_iter"] = int(clf.max_iter)
    if task.metadata.type == "BitextMining":
        _refuse(task, bool(getattr(task, "parallel_subsets", False)), "parallel_subsets bitext mining")
    return params


def _refuse(task: Any, unsupported: bool, what: str) -> None:
    """A scoring setting domainteb's evaluators do not implement: fail loudly, never score differently."""
    if unsupported:
        raise DomainTebError(f"{task.metadata.name}: mteb's {what} is not supported by domainteb's evaluators")


def mteb_metadata(info: PublicTaskInfo, task: Any) -> TaskMetadata:
    """domainteb metadata from the mteb task (main score, splits, languages, citation)."""
    meta = task.metadata
    subsets = list(task.hf_subsets or ["default"])
    multi = subsets != ["default"]
    splits = [split_key(s, sub, multi) for sub in subsets for s in meta.eval_splits]
    #: the task definition (loader, transform, scoring attributes) comes from this mteb version;
    #: the scores themselves are computed by domainteb's evaluators.
    params: dict[str, Any] = {"mteb_task": meta.name, "mteb_task_definition_version": _mteb_version()}
    langs = meta.eval_langs
    if multi:
        params["hf_subsets"] = subsets
        if isinstance(langs, dict):
            params["hf_subset_languages"] = {s: list(langs.get(s, [])) for s in subsets}
    params.update(scoring_params(task))
    languages = sorted({lang for v in langs.values() for lang in v}) if isinstance(langs, dict) else list(langs)
    train_split = getattr(task, "train_split", None) if info.type is TaskType.CLASSIFICATION else None
    return TaskMetadata(
        name=info.name,
        type=info.type,
        domain=info.domain,
        description=meta.description or "",
        main_score=meta.main_score,
        eval_splits=splits,
        train_split=train_split,
        languages=languages,
        source=f"hf:{meta.dataset['path']}@{meta.dataset['revision']}",
        license=info.license,
        license_url=info.license_url,
        citation=meta.bibtex_citation or "",
        revision=str(meta.dataset["revision"]),
        benchmark=info.benchmark,
        params=params,
    )


def _mteb_version() -> str:
    from importlib.metadata import version

    return version("mteb")


def _per_subset(task: Any, retrieval: bool) -> dict[str, Any]:
    if retrieval or task.metadata.is_multilingual:
        return dict(task.dataset)
    return {"default": task.dataset}


def convert_mteb_dataset(info: PublicTaskInfo, task: Any) -> tuple[dict[str, SplitData], dict[str, Any]]:
    """mteb's loaded ``task.dataset`` → split key → domainteb split data (+ extra params)."""
    retrieval = info.type in (TaskType.RETRIEVAL, TaskType.RERANKING)
    subsets = list(task.hf_subsets or ["default"])
    multi = subsets != ["default"]
    per_subset = _per_subset(task, retrieval)
    out: dict[str, SplitData] = {}
    params: dict[str, Any] = {}
    train_split = getattr(task, "train_split", "train") if info.type is TaskType.CLASSIFICATION else None
    for subset in subsets:
        data = per_subset.get(subset)
        if data is None:
            raise TaskDataError(f"{info.name}: mteb loaded no data for subset {subset!r}")
        splits = list(task.metadata.eval_splits)
        if train_split and train_split in data and train_split not in splits:
            splits.append(train_split)
        for split in splits:
            where = f"{info.name} subset {subset!r} split {split!r}"
            if split not in data:
                raise TaskDataError(f"{where}: missing from the loaded dataset (has {', '.join(map(str, data))})")
            key = split_key(split, subset, multi)
            part = data[split]
            if retrieval:
                out[key] = retrieval_from_tables(part["corpus"], part["queries"], part["relevant_docs"], part.get("top_ranked"), where)
                continue
            renames = _renames(task, info.type)
            out[key] = columns_from_rows(part, info.type, where, renames)
            if info.type is TaskType.CLUSTERING:
                sizes = cluster_set_sizes(part, renames)
                if sizes is not None:
                    params.setdefault("cluster_set_sizes", {})[key] = sizes
    return out, params


def _renames(task: Any, task_type: TaskType) -> dict[str, str]:
    """mteb's configurable column names → the standard ones."""
    pairs = {
        "input_column_name": "text" if task_type is TaskType.CLASSIFICATION else "sentences",
        "label_column_name": "label" if task_type is TaskType.CLASSIFICATION else "labels",
        "input1_column_name": "sentence1",
        "input2_column_name": "sentence2",
    }
    out: dict[str, str] = {}
    for attr, std in pairs.items():
        value = getattr(task, attr, None)
        if isinstance(value, str) and value != std:
            out[value] = std
    return out
