"""Trainer callbacks used by fine-tuning: learning curves to MLflow.

:class:`TrackerCallback` forwards every ``Trainer.log`` call (training loss, learning rate,
evaluator scores) to a :class:`~domainteb.core.tracking.Tracker`, keyed by global step, on
the main process only. transformers' own MLflow integration stays off (``report_to="none"``)
so there is exactly one writer.
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import TrainerCallback

from domainteb.core.tracking import Tracker

log = logging.getLogger(__name__)


class TrackerCallback(TrainerCallback):
    """Log the trainer's logs (loss, learning rate, eval metrics) as MLflow metrics per step."""

    def __init__(self, tracker: Tracker, prefix: str = "") -> None:
        self.tracker = tracker
        self.prefix = prefix

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or not state.is_world_process_zero:
            return
        metrics = {f"{self.prefix}{k}": v for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        try:
            self.tracker.log_metrics(metrics, step=int(state.global_step))
        except Exception as exc:  # a tracking hiccup must not kill a long training run
            log.warning("could not log metrics to MLflow at step %s: %s", state.global_step, exc)
