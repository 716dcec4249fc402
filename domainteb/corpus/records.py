"""Records of the corpus stage: source documents (in memory) and chunks (``chunks.jsonl``)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Document:
    """One source document of the user's corpus."""

    doc_id: str
    title: str
    text: str
    #: where it was read from: ``file`` or ``file:line`` (for error messages and the report).
    source: str


class Chunk(BaseModel):
    """One chunk of a document, as written to ``<run_dir>/corpus/chunks.jsonl`` (BEIR corpus fields + ``doc_id``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    id: str = Field(alias="_id")
    title: str = ""
    text: str
    doc_id: str

    def record(self) -> dict[str, str]:
        """The JSON line: ``{"_id", "title", "text", "doc_id"}``."""
        return self.model_dump(by_alias=True)

    @property
    def full_text(self) -> str:
        """Title and text as an embedding model sees a BEIR passage."""
        return f"{self.title} {self.text}".strip() if self.title else self.text
