"""WordNet 3.0 glosses (Debian ``wordnet-base`` 1:3.0-37) → the general reference corpus.

Reads ``/usr/share/wordnet/data.{noun,verb,adj,adv}`` (``$DOMAINTEB_WORDNET_DIR`` overrides
the folder); install with ``apt-get install -y wordnet-base``. Split entity: the synset
(salt ``wordnet-synset``); the general corpus and calibration triplets use train synsets,
``GenWordNetGlossRetrieval`` uses dev/test synsets.

* :func:`general_corpus` — deterministic sample of "lemma: gloss" passages.
* :func:`general_triplets` — (lemma, its gloss, the gloss of a sibling synset sharing a
  hypernym) for GAPrune's general-domain calibration.
* ``GenWordNetGlossRetrieval`` — lemma → gloss of a synset containing it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from domainteb.core.errors import DomainTebError
from domainteb.core.types import TaskType
from domainteb.domains.base import LIMITS, BuiltSplit, TaskBuilder, entity_partition, choice, retrieval_split, sample

SPEC = "debian:wordnet-base==1:3.0-37"
LICENSE = "WordNet 3.0 licence (Princeton University; permissive, notice required)"
CITATION = "Miller GA. WordNet: A Lexical Database for English. Communications of the ACM 38(11):39-41, 1995. WordNet 3.0."
SALT = "wordnet-synset"
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}
INSTALL = "apt-get install -y wordnet-base"


@dataclass(frozen=True)
class Synset:
    id: str  # "<offset>-<pos>"
    lemmas: tuple[str, ...]
    gloss: str
    hypernyms: tuple[str, ...]

    @property
    def partition(self) -> str:
        return entity_partition(self.id, SALT)


def wordnet_dir() -> Path:
    path = Path(os.environ.get("DOMAINTEB_WORDNET_DIR") or "/usr/share/wordnet")
    if not (path / "data.noun").is_file():
        raise DomainTebError(f"{path}/data.noun: WordNet data not found; run '{INSTALL}' or set DOMAINTEB_WORDNET_DIR")
    return path


def parse_data_line(line: str) -> Synset | None:
    """One synset of a WordNet ``data.*`` file (``None`` for licence-header lines)."""
    if line.startswith("  ") or "|" not in line:
        return None
    head, gloss = line.split("|", 1)
    f = head.split()
    offset, ss_type, w_cnt = f[0], f[2], int(f[3], 16)
    lemmas = tuple(f[4 + 2 * i].replace("_", " ") for i in range(w_cnt))
    i = 4 + 2 * w_cnt
    p_cnt = int(f[i])
    hypernyms = []
    for k in range(p_cnt):
        sym, target, pos = f[i + 1 + 4 * k], f[i + 2 + 4 * k], f[i + 3 + 4 * k]
        if sym in ("@", "@i"):
            hypernyms.append(f"{target}-{'a' if pos == 's' else pos}")
    pos = "a" if ss_type == "s" else ss_type
    return Synset(f"{offset}-{pos}", lemmas, " ".join(gloss.split()), tuple(hypernyms))


@functools.lru_cache(maxsize=1)
def synsets() -> dict[str, Synset]:
    folder = wordnet_dir()
    out: dict[str, Synset] = {}
    for name in ("noun", "verb", "adj", "adv"):
        with open(folder / f"data.{name}", encoding="latin-1") as fh:
            for line in fh:
                s = parse_data_line(line)
                if s is not None and s.gloss:
                    out[s.id] = s
    return out


@functools.lru_cache(maxsize=4)
def _partition_cached(part: str) -> tuple[Synset, ...]:
    return tuple(s for s in synsets().values() if s.partition == part)


def _partition(part: str) -> list[Synset]:
    return list(_partition_cached(part))


def general_corpus(n: int | None = 10000, seed: int = 0) -> list[dict[str, str]]:
    """``n`` deterministic "lemma, lemma: gloss" passages from train synsets."""
    from domainteb.domains.leakage import drop_evaluated

    passages = [{"id": f"wn:{s.id}", "text": f"{', '.join(s.lemmas)}: {s.gloss}"} for s in _partition("train")]
    return sample(drop_evaluated(passages, ("text",)), n, "general-corpus", seed)


@functools.lru_cache(maxsize=4)
def _all_triplets(part: str) -> tuple[tuple[str, str, str], ...]:
    ss = synsets()
    kids: dict[str, list[str]] = {}
    for s in ss.values():
        for h in s.hypernyms:
            kids.setdefault(h, []).append(s.id)
    out = []
    members = {s.id for s in _partition(part)}
    for s in _partition(part):
        sibs = sorted({k for h in s.hypernyms for k in kids.get(h, []) if k != s.id and k in members and ss[k].gloss != s.gloss})
        if sibs:
            out.append((choice(s.lemmas, "wn-lemma", s.id), s.gloss, ss[choice(sibs, "wn-sibling", s.id)].gloss))
    return tuple(out)


def general_triplets(n: int = 1000, seed: int = 0) -> list[dict[str, str]]:
    """``n`` real (lemma, gloss, sibling synset's gloss) triplets from train synsets."""
    from domainteb.domains.leakage import drop_evaluated

    rows = [{"query": q, "positive": p, "negative": ng} for q, p, ng in _all_triplets("train")]
    return sample(drop_evaluated(rows, ("query", "positive", "negative")), n, "general-triplets", seed)


def build_gloss_retrieval(size: str) -> dict[str, BuiltSplit]:
    limits = LIMITS[size]
    out = {}
    for part, share in (("test", 1.0), ("dev", 1 / 3)):
        ss = _partition(part)
        docs = {s.id: s.gloss for s in ss}
        by_lemma: dict[str, set[str]] = {}
        for s in ss:
            for lemma in s.lemmas:
                by_lemma.setdefault(lemma.lower(), set()).add(s.id)
        queries = [(f"{part}-{i}", lemma, d) for i, (lemma, d) in enumerate(sorted(by_lemma.items())) if len(lemma) >= 3]
        n = None if limits.queries is None else max(10, int(limits.queries * share))
        data, _ = retrieval_split(queries, docs, limits, n, f"GenWordNetGlossRetrieval-{part}")
        out[part] = BuiltSplit(data, {s.id for s in ss})
    return out


BUILDERS = [
    TaskBuilder(
        name="GenWordNetGlossRetrieval", domain="general", type=TaskType.RETRIEVAL,
        description="General-domain reference: retrieve the WordNet gloss of a synset from one of its lemmas.",
        source=SPEC, license=LICENSE, citation=CITATION, build=build_gloss_retrieval, eval_splits=["test", "dev"], salts=(SALT,),
    )
]

