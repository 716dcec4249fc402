"""The lexical baseline: BM25 search (bm25s) plus TF-IDF vectors (scikit-learn) for other tasks.

Retrieval and reranking call :meth:`LexicalModel.search`: one batched, multi-threaded
``bm25s`` ``retrieve`` over all queries, on an index built once per corpus content and cached
(in memory and under ``cache_root()/bm25``). Task types that need vectors
(STS, classification, clustering, pair classification, bitext, summarization) call
:meth:`LexicalModel.encode`, which returns dense L2-normalised TF-IDF rows.

TF-IDF fitting, the honest choice: a vocabulary/IDF must come from some texts. It is fitted
**once per task name, on the first texts the task encodes**, and reused for every later call
of that task. mteb-style evaluators encode the training split first in classification, so
the test split never leaks into the IDF there; for STS/pair tasks the first side defines the
vocabulary (terms only seen on the other side are ignored). Without a task name, each call is
fitted on its own texts (transductive within that call). The state depends on call order, so
this model is never put behind the embedding cache (``cacheable = False``).
Vocabularies wider than ``max_dense_dim`` are reduced with TruncatedSVD (seeded); otherwise
the vectors are exact TF-IDF.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import numpy as np

from domainteb.core.encoder import PromptType
from domainteb.core.io import cache_root, stable_hash

log = logging.getLogger(__name__)


def import_bm25s() -> Any:
    """The ``bm25s`` module, its logger handed back to the application's level (bm25s sets its
    own logger to DEBUG on import, which printed index-building chatter on stderr)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _stemmer(language: str | None) -> Callable[[list[str]], list[str]] | None:
    """PyStemmer's ``stemWords`` for ``language`` when PyStemmer is installed."""
    if not language:
        return None
    try:
        import Stemmer  # PyStemmer, optional
    except ImportError:
        return None
    return Stemmer.Stemmer(language).stemWords


class LexicalModel:
    """BM25 ``SearchModel`` and TF-IDF ``Encoder`` in one object (registry name ``bm25``)."""

    cacheable = False

    def __init__(self, *, name: str = "bm25", k1: float = 1.5, b: float = 0.75, method: str = "lucene",
                 stopwords: str = "en", stemmer: str | None = "english", max_dense_dim: int = 8192,
                 svd_dim: int = 512, seed: int = 0, display_name: str | None = None,
                 license: str | None = "MIT", labels: Sequence[str] = ("lexical",), n_threads: int = -1,
                 index_cache: bool = True) -> None:
        from bm25s.stopwords import STOPWORDS_EN

        self.name = name
        self.display_name = display_name or name
        self.k1, self.b, self.method = k1, b, method
        self.stopwords = frozenset(STOPWORDS_EN) if stopwords == "en" else frozenset()
        self._stem = _stemmer(stemmer)
        self.stemmer = stemmer if self._stem else None
        if stemmer and not self._stem:
            log.info("PyStemmer is not installed: BM25/TF-IDF run without stemming")
        self.max_dense_dim, self.svd_dim, self.seed = max_dense_dim, svd_dim, seed
        self.license = license
        self.labels = list(labels)
        self._tfidf: dict[str, Any] = {}
        #: bm25s retrieve workers (-1: every core; 0: in this process)
        self.n_threads = n_threads
        self._index: tuple[str, Any] | None = None
        self.index_dir = cache_root() / "bm25" if index_cache else None
        settings = {"k1": k1, "b": b, "method": method, "stopwords": stopwords, "stemmer": self.stemmer,
                    "max_dense_dim": max_dense_dim, "svd_dim": svd_dim, "seed": seed,
                    "bm25s": metadata.version("bm25s"), "sklearn": metadata.version("scikit-learn")}
        self.settings = settings
        self.revision = stable_hash(settings)[:16]

    # ------------------------------------------------------------------ tokenisation
    def tokenize(self, text: str) -> list[str]:
        tokens = [t for t in _TOKEN.findall(text.lower()) if t not in self.stopwords]
        return self._stem(tokens) if self._stem else tokens

    # ------------------------------------------------------------------ BM25 search
    def corpus_key(self, doc_ids: list[str], texts: list[str]) -> str:
        """Content hash of an indexed corpus under these BM25 settings (the index cache's key)."""
        h = hashlib.sha256(self.revision.encode())
        for did, text in zip(doc_ids, texts):
            h.update(did.encode("utf-8", "surrogatepass") + b"\x00" + text.encode("utf-8", "surrogatepass") + b"\x01")
        return h.hexdigest()

    def index_for(self, corpus: dict[str, dict[str, str]]) -> tuple[Any, list[str]]:
        """The BM25 index of ``corpus``: built once per corpus content, kept in memory for the
        last corpus and on disk under ``cache_root()/bm25/`` (published atomically)."""
        bm25s = import_bm25s()

        doc_ids = list(corpus)
        texts = [f"{d.get('title') or ''} {d.get('text') or ''}".strip() for d in corpus.values()]
        key = self.corpus_key(doc_ids, texts)
        if self._index is not None and self._index[0] == key:
            return self._index[1], doc_ids
        folder = self.index_dir / key[:32] if self.index_dir is not None else None
        retriever = None
        if folder is not None and (folder / "params.index.json").is_file():
            try:
                retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("%s: unreadable BM25 index (%s); rebuilding it", folder, exc)
                retriever = None
        if retriever is None:
            retriever = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
            retriever.index([self.tokenize(t) for t in texts], show_progress=False)
            if folder is not None:
                self._save(retriever, folder)
        self._index = (key, retriever)
        return retriever, doc_ids

    @staticmethod
    def _save(retriever: Any, folder: Any) -> None:
        import shutil
        import tempfile
        from pathlib import Path

        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            retriever.save(str(tmp), show_progress=False)
            try:
                os.rename(tmp, folder)
            except OSError:  # another run published the same index first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def search(
        self,
        corpus: dict[str, dict[str, str]],
        queries: dict[str, str],
        top_k: int,
        candidates: dict[str, list[str]] | None = None,
    ) -> dict[str, dict[str, float]]:
        """Query id → {doc id: BM25 score} for the ``top_k`` best docs (or every candidate).

        All queries go through one batched ``bm25s`` ``retrieve`` call (``n_threads`` workers);
        documents scoring 0 (no shared term) are left out, as before.
        """
        results: dict[str, dict[str, float]] = {qid: {} for qid in queries}
        if not corpus or not queries:
            return results
        retriever, doc_ids = self.index_for(corpus)
        vocab = retriever.vocab_dict
        tokens = {qid: [t for t in self.tokenize(q) if t in vocab] for qid, q in queries.items()}
        asked = [qid for qid in queries if tokens[qid]]
        if not asked:
            return results
        if candidates is not None:
            position = {did: i for i, did in enumerate(doc_ids)}
            for qid in asked:
                scores = retriever.get_scores(tokens[qid])
                results[qid] = {d: float(scores[position[d]]) for d in candidates.get(qid, []) if d in position}
            return results
        k = min(top_k, len(doc_ids))
        found, scores = retriever.retrieve([tokens[q] for q in asked], k=k, n_threads=self.n_threads,
                                           show_progress=False, return_as="tuple")
        for qid, rows, row_scores in zip(asked, found, scores):
            results[qid] = {doc_ids[int(i)]: float(s) for i, s in zip(rows, row_scores) if s > 0}
        return results

    # ------------------------------------------------------------------ TF-IDF vectors
    def _fit(self, texts: list[str]) -> Any:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(analyzer=self.tokenize, sublinear_tf=True, dtype=np.float32)
        try:
            matrix = vectorizer.fit_transform(texts)
        except ValueError:  # empty vocabulary: every text is stop words / punctuation
            log.warning("TF-IDF: no usable terms in %d texts; returning zero vectors", len(texts))
            return None
        svd = None
        if matrix.shape[1] > self.max_dense_dim:
            dim = max(1, min(self.svd_dim, matrix.shape[0] - 1, matrix.shape[1] - 1))
            svd = TruncatedSVD(n_components=dim, random_state=self.seed).fit(matrix)
            log.info("TF-IDF vocabulary %d > %d: reduced to %d dims with TruncatedSVD",
                     matrix.shape[1], self.max_dense_dim, dim)
        return vectorizer, svd

    def encode(
        self,
        texts: Sequence[str],
        *,
        prompt_type: PromptType | None = None,
        task_name: str | None = None,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> np.ndarray:
        texts = list(texts)
        if task_name is not None and task_name in self._tfidf:
            fitted = self._tfidf[task_name]
        else:
            fitted = self._fit(texts) if texts else None
            if task_name is not None and texts:
                self._tfidf[task_name] = fitted
        if fitted is None:
            return np.zeros((len(texts), 1), dtype=np.float32)
        vectorizer, svd = fitted
        matrix = vectorizer.transform(texts)
        dense = svd.transform(matrix) if svd is not None else matrix.toarray()
        dense = np.asarray(dense, dtype=np.float32)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        return np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "revision": self.revision,
            "n_parameters": 0,
            "embed_dim": None,
            "license": self.license,
            "labels": list(self.labels),
            "max_seq_length": None,
            "settings": dict(self.settings),
            "tfidf_fit": "first encode call per task name",
        }
