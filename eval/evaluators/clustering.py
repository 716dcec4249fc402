"""Clustering as mteb 2's fast clustering scores it.

All texts are embedded once (optionally a random subset: ``max_document_to_embed`` or
``max_fraction_of_documents_to_embed``; domainteb's default embeds everything, like most mteb
tasks). Then ``n_clusters`` (10) bootstrap samples of ``max_documents_per_cluster`` (16384)
rows, drawn with replacement by ``random.Random(seed)``, are each clustered by
``MiniBatchKMeans(k = number of labels, batch_size=512, n_init=1, random_state=seed)`` and
scored by V-measure and AMI against the labels. Main score: ``v_measure`` (mean over samples).

Tasks whose rows are cluster sets (mteb's ``AbsTaskClusteringLegacy``: ChemTEB's Wikipedia
clustering, FinMTEB's clustering) set ``params["clustering_protocol"] = "per_cluster_set"`` and
``params["cluster_set_sizes"][split]``: each set is clustered on its own by
``MiniBatchKMeans(k = labels in the set, batch_size=500, n_init="auto", random_state=seed)``, a
set with one label scores 1.0, and ``v_measure`` is the mean over sets (items: one per set).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from domainteb.core.errors import TaskDataError
from domainteb.core.types import Task, TaskType
from domainteb.eval.evaluators.base import (
    EvalOutput,
    column_split,
    encode_texts,
    finish,
    param,
    register,
    require_columns,
    require_encoder,
)
from domainteb.eval.items import make_items


def bootstrap_scores(
    embeddings: np.ndarray, labels: np.ndarray, *, n_samples: int, sample_size: int, kmeans_batch: int,
    rng: random.Random, seed: int,
) -> dict[str, list[float]]:
    """V-measure and AMI of k-means on ``n_samples`` bootstrap samples (mteb's protocol).

    (stats) ``assignments`` also holds each fit's cluster for EVERY embedded document
    (``predict`` on all of them), so the report can resample documents and recompute the
    V-measure per resample with the k-means fits (fixed seed) held fixed."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics.cluster import adjusted_mutual_info_score, v_measure_score

    model = MiniBatchKMeans(
        n_clusters=np.unique(labels).size, batch_size=kmeans_batch, init="k-means++", n_init=1, random_state=seed
    )
    out: dict[str, list[Any]] = {"v_measure": [], "ami": [], "assignments": []}
    for _ in range(n_samples):
        idx = rng.choices(range(len(embeddings)), k=sample_size)
        assigned = model.fit_predict(embeddings[idx])
        out["v_measure"].append(float(v_measure_score(labels[idx], assigned)))
        out["ami"].append(float(adjusted_mutual_info_score(labels[idx], assigned)))
        out["assignments"].append(model.predict(embeddings).astype(int).tolist())
    return out


def cluster_set_bounds(task: Task, split: str, n_rows: int) -> list[tuple[int, int]] | None:
    """``[(start, end), …]`` of each cluster set when the task is scored per set, else None."""
    if param(task, "clustering_protocol", "bootstrap") != "per_cluster_set":
        return None
    sizes = (param(task, "cluster_set_sizes", {}) or {}).get(split)
    if not sizes:
        return None
    sizes = [int(n) for n in sizes]
    if sum(sizes) != n_rows or any(n < 1 for n in sizes):
        raise TaskDataError(
            f"task {task.name!r} split {split!r}: cluster_set_sizes sum to {sum(sizes)} but the split has {n_rows} rows; "
            "rebuild the task"
        )
    bounds, start = [], 0
    for n in sizes:
        bounds.append((start, start + n))
        start += n
    return bounds


def per_cluster_set(
    task: Task, split: str, model: Any, bounds: list[tuple[int, int]], *, batch_size: int, seed: int, show_progress: bool
) -> EvalOutput:
    """mteb's legacy protocol: k-means on each cluster set, v-measure averaged over sets."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics.cluster import v_measure_score

    data = column_split(task, split)
    emb = encode_texts(model, list(data["sentences"]), prompt_type=None, task=task, batch_size=batch_size, show_progress=show_progress)
    labels = list(data["labels"])
    v_measures: list[float] = []
    for start, end in bounds:
        set_labels = labels[start:end]
        k = len(set(set_labels))
        if k <= 1:
            v_measures.append(1.0)  # as mteb: one label is trivially clustered
            continue
        km = MiniBatchKMeans(n_clusters=k, batch_size=500, n_init="auto", compute_labels=True, random_state=seed)
        km.fit(emb[start:end])
        v_measures.append(float(v_measure_score(set_labels, km.labels_.tolist())))
    metrics = {"v_measure": float(np.mean(v_measures)), "v_measure_std": float(np.std(v_measures))}
    items = make_items("mean", list(range(len(bounds))), values=v_measures, metric="v_measure")
    settings = {"clustering_protocol": "per_cluster_set", "n_cluster_sets": len(bounds), "kmeans_batch_size": 500, "seed": seed}
    return finish(task, split, metrics, items, settings)


@register(TaskType.CLUSTERING)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Cluster ``sentences`` and compare with ``labels`` over bootstrap samples (or per cluster set)."""
    require_encoder(model, task)
    data = column_split(task, split)
    require_columns(task, split, data, ("sentences", "labels"))
    bounds = cluster_set_bounds(task, split, len(data))
    if bounds is not None:
        return per_cluster_set(task, split, model, bounds, batch_size=batch_size, seed=seed, show_progress=show_progress)
    max_docs = param(task, "max_document_to_embed", None)
    max_frac = param(task, "max_fraction_of_documents_to_embed", None)
    if max_docs is not None and max_frac is not None:
        raise TaskDataError(
            f"task {task.name!r}: set only one of max_document_to_embed and max_fraction_of_documents_to_embed in params"
        )
    n_samples = int(param(task, "n_clusters", 10))
    sample_size = int(param(task, "max_documents_per_cluster", 16_384))
    kmeans_batch = int(param(task, "k_mean_batch_size", 512))
    rng = random.Random(seed)
    rows = list(range(len(data)))
    if max_docs is not None or max_frac is not None:
        limit = int(max_frac * len(data)) if max_frac is not None else int(max_docs)
        rows = rng.sample(range(len(data)), k=min(len(data), limit))
    labels = np.array([data["labels"][i] for i in rows])
    if np.unique(labels).size < 2:
        raise TaskDataError(f"task {task.name!r} split {split!r}: clustering needs at least two distinct labels")
    emb = encode_texts(
        model, [data["sentences"][i] for i in rows], prompt_type=None, task=task, batch_size=batch_size, show_progress=show_progress
    )
    scores = bootstrap_scores(
        emb, labels, n_samples=n_samples, sample_size=sample_size, kmeans_batch=kmeans_batch, rng=rng, seed=seed
    )
    metrics = {
        "v_measure": float(np.mean(scores["v_measure"])),
        "v_measure_std": float(np.std(scores["v_measure"])),
        "ami": float(np.mean(scores["ami"])),
        "ami_std": float(np.std(scores["ami"])),
    }
    main = task.metadata.main_score
    key = main if main in scores else "v_measure"
    if key == "v_measure":  # (stats) per-document items: the report resamples documents, not k-means runs
        items = make_items("v_measure", [str(i) for i in rows], labels=[str(x) for x in labels.tolist()],
                           clusters=scores["assignments"], metric=key)
    else:
        items = make_items("mean", list(range(n_samples)), values=scores[key], metric=key)
    settings = {
        "clustering_protocol": "bootstrap",
        "n_clusters": n_samples,
        "max_documents_per_cluster": sample_size,
        "k_mean_batch_size": kmeans_batch,
        "max_document_to_embed": max_docs,
        "max_fraction_of_documents_to_embed": max_frac,
        "seed": seed,
        "n_embedded": len(rows),
    }
    return finish(task, split, metrics, items, settings)
