"""Build every offline task at size=tiny from the real packages and validate it from disk."""

from __future__ import annotations

import re
import shutil

import pytest

from domainteb.core.taskio import load_task_folder
from domainteb.core.tasks import get_task
from domainteb.core.types import ColumnData, RetrievalData, TaskType
from domainteb.domains import BUILDERS
from domainteb.domains.base import content_hash

NAMES = BUILDERS.names()


@pytest.mark.parametrize("name", NAMES)
def test_build_tiny_and_reload(name: str) -> None:
    task = get_task(name)  # size from DOMAINTEB_TASK_SIZE=tiny
    builder = BUILDERS.get(name)
    folder = builder.folder("tiny")
    assert task.metadata.params["size"] == "tiny"
    assert re.fullmatch(r"[0-9a-f]{64}", task.metadata.revision)
    assert task.metadata.revision == content_hash(folder)
    reloaded = load_task_folder(folder)  # schema validation by the core loader
    data = reloaded.load()
    for split in task.metadata.eval_splits + ([task.metadata.train_split] if task.metadata.train_split else []):
        part = data[split]
        assert 0 < len(part) <= 200
        if task.type in (TaskType.RETRIEVAL, TaskType.RERANKING):
            assert isinstance(part, RetrievalData)
            assert all(any(r > 0 for r in rels.values()) for rels in part.qrels.values())
        else:
            assert isinstance(part, ColumnData)
    assert task.metadata.source == builder.source and task.metadata.license


@pytest.mark.slow
def test_build_is_deterministic(tmp_path, monkeypatch, domain_cache) -> None:
    first = {n: get_task(n).metadata.revision for n in NAMES}
    if (domain_cache / "wheels").is_dir():
        shutil.copytree(domain_cache / "wheels", tmp_path / "wheels")
    monkeypatch.setenv("DOMAINTEB_CACHE", str(tmp_path))
    second = {n: get_task(n).metadata.revision for n in NAMES}
    assert first == second
    assert len(set(first.values())) == len(first)
