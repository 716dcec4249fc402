"""Loading tasks that ``mteb`` does not ship (FinMTEB) straight from their Hugging Face layout.

Layouts read (the ones FinMTEB's datasets use, via mteb 1's loaders):

* retrieval — BEIR on the hub: config ``corpus`` (``_id``, ``title``, ``text``), config
  ``queries`` (``_id``, ``text``) and the qrels (``query-id``, ``corpus-id``, ``score``) in the
  ``default`` (or ``qrels``) config under the split's name. A config with a single split is
  used whatever that split is called (as mteb does).
* reranking — rows ``query``, ``positive`` (list), ``negative`` (list); converted with the
  same rule as task folders (:func:`domainteb.core.taskio.reranking_to_retrieval`).
* every other type — the split's rows, columns renamed per the catalog, then mteb's column
  names (:data:`domainteb.domains.public.convert.COLUMNS`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from domainteb.core.errors import TaskDataError
from domainteb.core.taskio import reranking_to_retrieval
from domainteb.core.types import SplitData, TaskType
from domainteb.domains.public.availability import DataSource
from domainteb.domains.public.catalog import PublicTaskInfo
from domainteb.domains.public.convert import (
    cluster_set_sizes,
    columns_from_rows,
    qrels_from_rows,
    retrieval_from_tables,
)

log = logging.getLogger(__name__)


def _split_names(src: DataSource, config: str | None) -> list[str]:
    import datasets

    return list(datasets.get_dataset_split_names(src.path, config_name=config, revision=src.revision))


def _config_names(src: DataSource) -> list[str]:
    import datasets

    return list(datasets.get_dataset_config_names(src.path, revision=src.revision))


def _load(src: DataSource, config: str | None, split: str) -> Any:
    import datasets

    return datasets.load_dataset(src.path, config, split=split, revision=src.revision)


def _pick_split(src: DataSource, config: str | None, wanted: str, where: str) -> str:
    splits = _split_names(src, config)
    if wanted in splits:
        return wanted
    if len(splits) == 1:
        return splits[0]
    raise TaskDataError(f"{where}: config {config or 'default'!r} has no split {wanted!r} (has {', '.join(splits)})")


def load_retrieval_split(src: DataSource, split: str, where: str) -> SplitData:
    configs = _config_names(src)
    qrels_config = "default" if "default" in configs else "qrels" if "qrels" in configs else None
    if "corpus" not in configs or "queries" not in configs or qrels_config is None:
        raise TaskDataError(
            f"{where}: expected configs corpus, queries and default/qrels (BEIR on the hub), found {', '.join(configs)}"
        )
    qrels = qrels_from_rows(_load(src, qrels_config, _pick_split(src, qrels_config, split, where)))
    corpus = _load(src, "corpus", _pick_split(src, "corpus", "corpus", where))
    queries = _load(src, "queries", _pick_split(src, "queries", "queries", where))
    return retrieval_from_tables(corpus, queries, qrels, None, where)


def load_hf_task(info: PublicTaskInfo, src: DataSource) -> tuple[dict[str, SplitData], dict[str, Any]]:
    """All splits of a FinMTEB task; returns the data and extra metadata params."""
    where = f"{info.name} ({src.path})"
    out: dict[str, SplitData] = {}
    params: dict[str, Any] = {}
    splits = list(info.eval_splits)
    if info.type is TaskType.CLASSIFICATION and "train" not in splits and "train" in _split_names(src, None):
        splits.append("train")
    for split in splits:
        where_split = f"{where} split {split!r}"
        if info.type is TaskType.RETRIEVAL:
            out[split] = load_retrieval_split(src, split, where_split)
            continue
        rows = _load(src, None, _pick_split(src, None, split, where_split))
        if info.type is TaskType.RERANKING:
            cols = columns_from_rows(rows, TaskType.RERANKING, where_split, info.renames)
            out[split] = reranking_to_retrieval(cols, Path(where_split))
            continue
        out[split] = columns_from_rows(rows, info.type, where_split, info.renames)
        if info.type is TaskType.CLUSTERING:
            sizes = cluster_set_sizes(rows, info.renames)
            if sizes is not None:
                params.setdefault("cluster_set_sizes", {})[split] = sizes
                # FinMTEB scores clustering with mteb 1's protocol: k-means per cluster set.
                params["clustering_protocol"] = "per_cluster_set"
    return out, params
