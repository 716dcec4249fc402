"""Training on a stream of pairs (a :class:`datasets.IterableDataset`), for pair sets that do not fit in memory.

What changes against an in-memory :class:`datasets.Dataset` (sentence-transformers 6.2):

* no batch sampler: the trainer batches an ``IterableDataset`` in stream order (its
  ``NO_DUPLICATES`` sampler needs indexed access and is ignored with a warning). Order comes
  from :meth:`datasets.IterableDataset.shuffle` with a seeded buffer (``shuffle_buffer``
  pairs; 0 keeps the file order) and, for in-batch losses, :func:`no_duplicate_batches`
  moves a pair whose text already occurs in its batch to a later batch, as the
  no-duplicates sampler does for in-memory data;
* the trainer cannot count the stream, so training needs ``max_steps`` (it re-reads the
  stream when one pass is shorter);
* under ``torchrun`` every rank reads the whole stream and keeps its slice of each global
  batch (accelerate's ``IterableDatasetShard``; ``dispatch_batches`` is off because padded
  batches of different lengths cannot be concatenated on rank 0), so a global batch is
  ``batch_size × world_size`` consecutive pairs of the shuffled stream;
* the resume fingerprint is the stream's source identity (:func:`source_key`: the pairs
  file's size, mtime and streamed sha256), never its content in memory.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from typing import Any

from domainteb.core.errors import ConfigError

log = logging.getLogger(__name__)

#: prefix of the source identity recorded in a stream's ``DatasetInfo.description``.
SOURCE_KEY_PREFIX = "domainteb-source:"
#: pairs held back at most (× the batch) while looking for a batch without their texts.
PENDING_FACTOR = 8


def is_stream(dataset: Any) -> bool:
    """True for a :class:`datasets.IterableDataset` (lazily read; no ``len``)."""
    import datasets

    return isinstance(dataset, datasets.IterableDataset)


def set_source_key(dataset: Any, key: str) -> Any:
    """Record ``key`` (a content identity of the stream's source) on the dataset's info; kept by
    ``take``/``shuffle``/``map``, which copy the info."""
    dataset.info.description = SOURCE_KEY_PREFIX + key
    return dataset


def source_key(dataset: Any) -> str:
    """The identity :func:`set_source_key` recorded; a one-line error for a stream without one."""
    desc = str(getattr(dataset.info, "description", "") or "")
    if not desc.startswith(SOURCE_KEY_PREFIX):
        raise ConfigError(
            "a streamed training dataset needs a source identity for resuming: load it with "
            "domainteb.adapt.pairs.stream_pairs or call domainteb.adapt.streaming.set_source_key(dataset, key)"
        )
    return desc[len(SOURCE_KEY_PREFIX) :]


def _texts(row: dict[str, Any], columns: tuple[str, ...]) -> set[str]:
    return {row[c] for c in columns if isinstance(row.get(c), str)}


def _dedup_rows(source: Any, window: int, columns: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Rows of ``source`` regrouped so that no ``window`` consecutive rows (one global batch) share a
    text; a colliding row waits for a later window (at most ``PENDING_FACTOR × window`` wait; when that
    is full, or the stream ends, the oldest waiting row goes into the next window as it is)."""
    pending: deque[dict[str, Any]] = deque()
    batch: list[dict[str, Any]] = []
    seen: set[str] = set()
    forced = 0

    def place(row: dict[str, Any], force: bool = False) -> bool:
        nonlocal forced
        texts = _texts(row, columns)
        if not force and not seen.isdisjoint(texts):
            return False
        forced += force and not seen.isdisjoint(texts)
        batch.append(row)
        seen.update(texts)
        return True

    def refill() -> None:  # a fresh window first takes the waiting rows that fit
        for _ in range(len(pending)):
            if len(batch) == window:
                return
            row = pending.popleft()
            if not place(row):
                pending.append(row)

    for row in source:
        if not place(row):
            pending.append(row)
            if len(pending) > PENDING_FACTOR * window:
                place(pending.popleft(), force=True)
        while len(batch) == window:  # a full window goes out; the next one starts with the waiting rows
            yield from batch
            batch, seen = [], set()
            refill()
    while pending:
        before = len(pending)
        refill()
        if len(pending) == before and len(batch) < window:
            place(pending.popleft(), force=True)
        if len(batch) == window or not pending:
            yield from batch
            batch, seen = [], set()
    yield from batch
    if forced:
        log.warning("%d streamed pair(s) share a text with another pair of their batch (too many repeats of one "
                    "text to keep them apart); in-batch losses count those as false negatives", forced)


def no_duplicate_batches(dataset: Any, window: int) -> Any:
    """``dataset`` (an IterableDataset) re-read so no ``window`` consecutive rows repeat a text."""
    import datasets

    columns = [c for c, f in dataset.features.items() if getattr(f, "dtype", None) in ("string", "large_string")]
    # gen_kwargs: a list value would be split into shards, hence the tuple
    kwargs = {"source": dataset, "window": int(window), "columns": tuple(columns)}
    out = datasets.IterableDataset.from_generator(_dedup_rows, features=dataset.features, gen_kwargs=kwargs)
    out.info.description = dataset.info.description
    return out


def prepare_stream(dataset: Any, *, batch_size: int, world_size: int, seed: int, shuffle_buffer: int,
                   no_duplicates: bool) -> Any:
    """The stream the trainer reads: buffer-shuffled with ``seed`` (the same order on every rank),
    then regrouped without repeated texts per global batch when the loss uses in-batch negatives."""
    if dataset.features is None:
        raise ConfigError("the streamed training dataset has no Features; pass features= when building it "
                          "(domainteb.adapt.pairs.stream_pairs does)")
    if shuffle_buffer < 0:
        raise ConfigError(f"adapt.shuffle_buffer={shuffle_buffer}: use 0 (file order) or a positive number of pairs")
    if shuffle_buffer > 0:
        dataset = dataset.shuffle(seed=seed, buffer_size=int(shuffle_buffer))
    if no_duplicates:
        dataset = no_duplicate_batches(dataset, batch_size * max(1, world_size))
    return dataset
