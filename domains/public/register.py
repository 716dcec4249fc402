"""Registers the public benchmark tasks (FinMTEB, ChemTEB, MTEB(Medical)) as :class:`TaskSpec` entries.

Registration reads only :mod:`domainteb.domains.public.catalog`; nothing is downloaded and
``mteb`` is not imported until a task is built. Building an unavailable task raises a
one-line :class:`~domainteb.core.errors.TaskDataError` carrying the availability reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from domainteb.core.errors import DomainTebError, TaskDataError
from domainteb.core.tasks import TASKS, TaskSpec, register_task
from domainteb.core.types import SplitData, Task, TaskMetadata, TaskType
from domainteb.domains.public.availability import DataSource, resolve
from domainteb.domains.public.catalog import ALL_PUBLIC, FINMTEB_CITATION, FINMTEB_SOURCE, PublicTaskInfo

log = logging.getLogger(__name__)


def availability(info: PublicTaskInfo) -> str | None:
    """None when the task's data can be read, else the reason."""
    if info.loader == "mteb":
        from domainteb.domains.public.mteb_loader import mteb_missing_reason

        missing = mteb_missing_reason()
        if missing:
            return missing
    found = resolve(info.path, info.revision)
    return found if isinstance(found, str) else None


def _source(info: PublicTaskInfo, local_path: str | os.PathLike[str] | None) -> DataSource:
    if local_path is not None:
        if not os.path.isdir(local_path):
            raise TaskDataError(f"{info.name}: local_path {local_path} is not a folder; point it at a copy of {info.path}")
        return DataSource(str(local_path), None, True)
    found = resolve(info.path, info.revision)
    if isinstance(found, str):
        raise TaskDataError(f"public task {info.name} is unavailable: {found}")
    return found


def local_copy_key(folder: str | os.PathLike[str]) -> str:
    """Fingerprint of a local copy: every file's relative path, size and mtime (an edit changes it)."""
    from domainteb.core.io import stable_hash

    root = Path(folder)
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".cache" not in p.relative_to(root).parts):
        st = path.stat()
        entries.append([path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return stable_hash({"folder": str(root.resolve()), "files": entries})[:16]


@contextlib.contextmanager
def datasets_cache_for(src: DataSource) -> Iterator[None]:
    """Read a local copy through a ``datasets`` cache keyed by its content fingerprint.

    ``datasets`` caches a local folder's arrow files under the folder's *name* and config, so a
    second copy with the same name, or an edited copy, would be served the old rows. A cache
    folder per fingerprint (under domainteb's cache) makes every edit load fresh data.
    """
    if not src.local:
        yield
        return
    import datasets.config

    from domainteb.core.io import cache_root

    before = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = cache_root() / "hf-datasets" / local_copy_key(src.path)
    try:
        yield
    finally:
        datasets.config.HF_DATASETS_CACHE = before


def _wrap_load_errors(info: PublicTaskInfo, src: DataSource, fn: Any) -> Any:
    try:
        with datasets_cache_for(src):
            return fn()
    except DomainTebError:
        raise
    except Exception as exc:  # datasets/mteb/network failures → one line naming the dataset
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise TaskDataError(
            f"{info.name}: could not load {src.path}"
            f"{'@' + src.revision if src.revision else ''} ({type(exc).__name__}: {first})"
        ) from exc


def finmteb_metadata(info: PublicTaskInfo) -> TaskMetadata:
    train_split = "train" if info.type is TaskType.CLASSIFICATION else None
    return TaskMetadata(
        name=info.name,
        type=info.type,
        domain=info.domain,
        description=info.description or f"FinMTEB task {info.name} ({info.path})",
        main_score=info.main_score,
        eval_splits=list(info.eval_splits),
        train_split=train_split,
        source=f"hf:{info.path}@{info.revision}",
        license=info.license,
        license_url=info.license_url,
        citation=FINMTEB_CITATION,
        revision=info.revision,
        benchmark=info.benchmark,
        params={**info.params, "pinned_from": FINMTEB_SOURCE, **({"note": info.note} if info.note else {})},
    )


def build_public_task(
    info: PublicTaskInfo,
    local_path: str | os.PathLike[str] | None = None,
    subsets: list[str] | None = None,
    size: str | None = None,
) -> Task:
    """A lazily loaded :class:`Task` for a public benchmark task.

    ``local_path`` reads a local copy laid out like the hub repository; ``subsets`` restricts
    a multi-subset mteb task (e.g. ``["en"]``). ``size`` is accepted for a uniform
    ``spec.build(size=...)`` call and ignored: public tasks come in their published size only.
    """
    if size not in (None, "full"):
        log.debug("%s: size=%s ignored (public tasks have one size)", info.name, size)
    src = _source(info, local_path)
    if info.loader == "mteb":
        from domainteb.domains.public.mteb_loader import convert_mteb_dataset, get_mteb_task, mteb_metadata

        task = _wrap_load_errors(info, src, lambda: get_mteb_task(info, src, subsets))
        metadata = mteb_metadata(info, task)

        def load_mteb() -> dict[str, SplitData]:
            def _go() -> tuple[dict[str, SplitData], dict[str, Any]]:
                task.load_data()
                # mteb-1 style loaders (PublicHealthQA, CUREv1) fill corpus/queries/relevant_docs;
                # mteb converts them to its v2 ``dataset`` only inside evaluate(), so do it here.
                convert = getattr(task, "convert_v1_dataset_format_to_v2", None)
                if callable(convert):
                    convert(num_proc=None)
                return convert_mteb_dataset(info, task)

            data, params = _wrap_load_errors(info, src, _go)
            metadata.params.update(params)
            metadata.n_samples.update({k: len(v) for k, v in data.items()})
            return data

        return Task(metadata=metadata, loader=load_mteb)

    if subsets:
        raise DomainTebError(f"{info.name}: FinMTEB tasks have no subsets; drop the 'subsets' argument")
    from domainteb.domains.public.hf_loader import load_hf_task

    metadata = finmteb_metadata(info)

    def load_hf() -> dict[str, SplitData]:
        data, params = _wrap_load_errors(info, src, lambda: load_hf_task(info, src))
        metadata.params.update(params)
        metadata.n_samples.update({k: len(v) for k, v in data.items()})
        return data

    return Task(metadata=metadata, loader=load_hf)


def spec_for(info: PublicTaskInfo) -> TaskSpec:
    return TaskSpec(
        name=info.name,
        domain=info.domain,
        type=info.type,
        factory=lambda **kw: build_public_task(info, **kw),
        benchmark=info.benchmark,
        source=f"hf:{info.path}@{info.revision}",
        license=info.license,
        license_url=info.license_url,
        description=info.description or info.reference,
        availability=lambda: availability(info),
    )


def register_public_tasks() -> list[TaskSpec]:
    """Register every public task once (idempotent)."""
    specs = []
    for info in ALL_PUBLIC:
        if info.name in TASKS:
            existing = TASKS.get(info.name)
            if existing.benchmark != info.benchmark:
                raise DomainTebError(
                    f"task name {info.name!r} of {info.benchmark} clashes with a {existing.benchmark} task; rename one"
                )
            specs.append(existing)
            continue
        specs.append(register_task(spec_for(info)))
    return specs
