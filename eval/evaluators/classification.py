"""Classification as mteb 2 scores it: logistic regression on frozen embeddings.

For each of ``n_experiments`` (10) experiments the training split is undersampled to
``samples_per_label`` (8) texts per label — mteb's protocol: a ``RandomState(seed)``
re-shuffles the previous experiment's order — a ``LogisticRegression(max_iter=100,
random_state=seed)`` is fitted and the test split is predicted. Scores are averaged over
experiments. Main score: ``accuracy``. The training split is ``metadata.train_split``
(default ``train``). All three numbers can be overridden in ``metadata.params``.
"""

from __future__ import annotations

from collections import defaultdict
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


def undersample(labels: list[Any], n_experiments: int, samples_per_label: int, seed: int) -> list[list[int]]:
    """Training row indices of each experiment (mteb's cumulative re-shuffling)."""
    order = list(range(len(labels)))
    chosen: list[list[int]] = []
    for _ in range(n_experiments):
        np.random.RandomState(seed).shuffle(order)
        count: dict[Any, int] = defaultdict(int)
        picked = []
        for i in order:
            if count[labels[i]] < samples_per_label:
                picked.append(i)
                count[labels[i]] += 1
        chosen.append(picked)
    return chosen


def label_metrics(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """mteb's per-experiment metrics; ``ap``/``ap_weighted`` only for two gold classes."""
    import warnings

    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_score, recall_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        out = {
            "accuracy": accuracy_score(gold, pred),
            "f1": f1_score(gold, pred, average="macro"),
            "f1_weighted": f1_score(gold, pred, average="weighted"),
            "precision": precision_score(gold, pred, average="macro"),
            "precision_weighted": precision_score(gold, pred, average="weighted"),
            "recall": recall_score(gold, pred, average="macro"),
            "recall_weighted": recall_score(gold, pred, average="weighted"),
        }
        if len(np.unique(gold)) == 2:
            try:
                out["ap"] = average_precision_score(gold, pred, average="macro")
                out["ap_weighted"] = average_precision_score(gold, pred, average="weighted")
            except ValueError:  # labels without a class 1: sklearn has no positive class
                pass
    return {k: float(v) for k, v in out.items()}


@register(TaskType.CLASSIFICATION)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Fit a classifier per experiment on undersampled training embeddings; predict ``split``."""
    from sklearn.linear_model import LogisticRegression

    require_encoder(model, task)
    train_name = task.metadata.train_split or "train"
    if train_name == split:
        raise TaskDataError(f"task {task.name!r}: train split {train_name!r} is also the evaluated split; use separate splits")
    train, test = column_split(task, train_name), column_split(task, split)
    for name, data in ((train_name, train), (split, test)):
        require_columns(task, name, data, ("text", "label"))
    n_experiments = int(param(task, "n_experiments", 10))
    per_label = int(param(task, "samples_per_label", 8))
    max_iter = int(param(task, "max_iter", 100))
    train_labels = list(train["label"])
    chosen = undersample(train_labels, n_experiments, per_label, seed)
    union = sorted(set().union(*chosen))
    # integer labels are used as they are (like mteb); other labels become codes in sorted
    # order (for binary ``ap`` the later label in sort order is the positive class)
    values = set(train_labels) | set(test["label"])
    if all(isinstance(v, int) for v in values):
        code = {v: v for v in values}
    else:
        code = {c: i for i, c in enumerate(sorted(values, key=str))}
    y_train = np.asarray([code[v] for v in train_labels])
    y_test = np.asarray([code[v] for v in test["label"]])
    emb = encode_texts(
        model,
        [train["text"][i] for i in union] + list(test["text"]),
        prompt_type=None,
        task=task,
        batch_size=batch_size,
        show_progress=show_progress,
    )
    row = {orig: pos for pos, orig in enumerate(union)}
    test_emb = emb[len(union) :]
    per_exp: list[dict[str, float]] = []
    preds = []
    for picked in chosen:
        clf = LogisticRegression(max_iter=max_iter, random_state=seed)
        clf.fit(emb[[row[i] for i in picked]], y_train[picked])
        pred = clf.predict(test_emb)
        preds.append(pred)
        per_exp.append(label_metrics(y_test, pred))
    metrics = {k: float(np.mean([m[k] for m in per_exp if k in m])) for k in per_exp[0]}
    main = task.metadata.main_score
    ids = list(range(len(y_test)))
    pred_arr = np.asarray(preds)
    if main == "accuracy":
        items = make_items("mean", ids, values=(pred_arr == y_test).mean(axis=0), metric=main)
    else:
        items = make_items("classification", ids, gold=y_test, preds=pred_arr, metric=main)
    settings = {
        "n_experiments": n_experiments,
        "samples_per_label": per_label,
        "max_iter": max_iter,
        "seed": seed,
        "train_split": train_name,
        "n_train_used": len(union),
        "n_test": len(y_test),
    }
    return finish(task, split, metrics, items, settings)
