"""The adapted-vs-generalist report: paired bootstrap CIs per task, per task type and per
domain, complexity profiles next to the gains, figures, and the MLflow dashboard helpers.

Entry points: :func:`build_report` (Python), ``domainteb report`` (:mod:`.stage`),
``domainteb ui`` and :func:`register_adapted_model` (:mod:`.ui`).
"""

from __future__ import annotations

from domainteb.eval.report.builder import Report, build_report
from domainteb.eval.report.collect import ResultSet, ScoreRecord, load_profiles, load_results
from domainteb.eval.report.compare import ReportData

__all__ = ["Report", "ReportData", "ResultSet", "ScoreRecord", "build_report", "load_profiles", "load_results"]
