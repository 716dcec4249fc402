"""Dense search: exact streamed top-k, pluggable backends (exact torch, FAISS flat/IVF/HNSW),
and the streamed-corpus driver used by retrieval. ``search.*`` in ``conf/eval.yaml`` picks them."""

from domainteb.eval.search.backends import BACKENDS, SearchIndex, faiss_gpus, make_index
from domainteb.eval.search.settings import SearchSettings, current_settings, use_settings
from domainteb.eval.search.stream import SearchRecord, peak_rss_bytes, stream_search
from domainteb.eval.search.topk import (
    MAX_SCORES_IN_MEMORY,
    Score,
    StreamingTopK,
    TopK,
    as_run,
    candidate_run,
    prepare,
    recall_at,
    search_run,
    top_k,
)

__all__ = [
    "BACKENDS", "MAX_SCORES_IN_MEMORY", "Score", "SearchIndex", "SearchRecord", "SearchSettings", "StreamingTopK",
    "TopK", "as_run", "candidate_run", "current_settings", "faiss_gpus", "make_index", "peak_rss_bytes", "prepare",
    "recall_at", "search_run", "stream_search", "top_k", "use_settings",
]
