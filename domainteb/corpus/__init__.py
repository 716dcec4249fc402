"""The user's own corpus: load documents (JSONL, a folder of .txt/.md/.jsonl, a BEIR folder),
chunk them with the base model's tokenizer and write ``<run_dir>/corpus/chunks.jsonl``."""

from domainteb.corpus.chunking import chunk_documents, load_tokenizer
from domainteb.corpus.loaders import load_documents
from domainteb.corpus.records import Chunk, Document
from domainteb.corpus.store import read_chunks, write_chunks

__all__ = ["Chunk", "Document", "chunk_documents", "load_documents", "load_tokenizer", "read_chunks", "write_chunks"]
