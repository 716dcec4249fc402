"""Offline domain suites built from pinned packages: finance, chemistry, medical, and a general
reference (WordNet).

Importing this package registers every offline task in :data:`domainteb.core.tasks.TASKS`
(built on first use; ``get_task(name, size="tiny"|"small"|"full")``), the training corpora in
:data:`domainteb.core.tasks.TRAINING_CORPORA` and the triplet sources behind
:func:`train_pairs`. See :mod:`domainteb.domains.base` for sizes, caching and entity splits.
"""

from __future__ import annotations

from domainteb.domains import chemistry, finance, general, medical  # noqa: F401  (registration)
from domainteb.domains.base import BUILDERS, LIMITS, SIZES, TaskBuilder, train_pairs
from domainteb.domains.general import general_corpus, general_triplets

DOMAINS: tuple[str, ...] = ("finance", "chemistry", "medical")

__all__ = [
    "BUILDERS",
    "DOMAINS",
    "LIMITS",
    "SIZES",
    "TaskBuilder",
    "general_corpus",
    "general_triplets",
    "train_pairs",
]

try:  # public benchmark loaders (FinMTEB, ChemTEB, MedTEB…), written separately
    from domainteb.domains import public  # noqa: F401
except ImportError:
    pass
