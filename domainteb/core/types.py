"""Task types, task metadata and the in-memory shapes of task data.

Records that cross a file boundary are pydantic models (:class:`TaskMetadata`);
in-memory task data are dataclasses.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TaskType(str, enum.Enum):
    """The MTEB task types (values are mteb's type names)."""

    RETRIEVAL = "Retrieval"
    RERANKING = "Reranking"
    STS = "STS"
    PAIR_CLASSIFICATION = "PairClassification"
    CLASSIFICATION = "Classification"
    CLUSTERING = "Clustering"
    BITEXT_MINING = "BitextMining"
    SUMMARIZATION = "Summarization"
    #: FinMTEB scores summarization differently from mteb (text vs. summary), so it is its own type.
    FIN_SUMMARIZATION = "FinSummarization"

    @classmethod
    def parse(cls, value: str) -> TaskType:
        """Accept mteb's names and snake_case aliases (``pair_classification``)."""
        norm = str(value).replace("_", "").replace("-", "").lower()
        for member in cls:
            if member.value.lower() == norm or member.name.replace("_", "").lower() == norm:
                return member
        from domainteb.core.errors import TaskDataError

        raise TaskDataError(
            f"unknown task type {value!r}; use one of {', '.join(m.value for m in cls)}"
        )


#: main score per task type, with mteb's metric key names.
DEFAULT_MAIN_SCORE: dict[TaskType, str] = {
    TaskType.RETRIEVAL: "ndcg_at_10",
    TaskType.RERANKING: "map_at_1000",
    TaskType.STS: "cosine_spearman",
    TaskType.PAIR_CLASSIFICATION: "max_ap",
    TaskType.CLASSIFICATION: "accuracy",
    TaskType.CLUSTERING: "v_measure",
    TaskType.BITEXT_MINING: "f1",
    TaskType.SUMMARIZATION: "cosine_spearman",
    TaskType.FIN_SUMMARIZATION: "cosine_spearman",
}


class TaskMetadata(BaseModel):
    """Everything a user needs to know about a task, stored with it and in results."""

    model_config = ConfigDict(extra="allow", use_enum_values=False)

    name: str
    type: TaskType
    domain: str = "general"
    description: str = ""
    main_score: str = ""
    eval_splits: list[str] = Field(default_factory=lambda: ["test"])
    train_split: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["eng-Latn"])
    source: str = ""
    license: str = ""
    citation: str = ""
    revision: str = ""
    benchmark: str = "domainteb"
    n_samples: dict[str, int] = Field(default_factory=dict)
    #: type-specific parameters, e.g. STS ``min_score``/``max_score``.
    params: dict[str, Any] = Field(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        if not self.main_score:
            self.main_score = DEFAULT_MAIN_SCORE[self.type]


@dataclass
class RetrievalData:
    """One split of a retrieval (or reranking) task in BEIR shape."""

    corpus: dict[str, dict[str, str]]  # doc id -> {"title": ..., "text": ...}
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}
    #: reranking: query id -> candidate doc ids to rank (mteb 2's ``top_ranked``).
    top_ranked: dict[str, list[str]] | None = None

    def __len__(self) -> int:
        return len(self.queries)


@dataclass
class ColumnData:
    """One split of any other task type: mteb's column names mapped to lists of values."""

    columns: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> list[Any]:
        return self.columns[name]


SplitData = RetrievalData | ColumnData


@dataclass
class Task:
    """A task: metadata plus lazily loaded data per split."""

    metadata: TaskMetadata
    loader: Callable[[], dict[str, SplitData]] = field(repr=False)
    _data: dict[str, SplitData] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def type(self) -> TaskType:
        return self.metadata.type

    def load(self) -> dict[str, SplitData]:
        if self._data is None:
            self._data = self.loader()
        return self._data

    def split(self, name: str) -> SplitData:
        data = self.load()
        if name not in data:
            from domainteb.core.errors import TaskDataError

            raise TaskDataError(
                f"task {self.name!r} has no split {name!r}; available: {', '.join(sorted(data)) or '(none)'}"
            )
        return data[name]
