"""General-domain reference: WordNet glosses for GAPrune's general calibration and a general
retrieval task. Importing registers ``GenWordNetGlossRetrieval``, the ``general`` training
corpus and the ``general`` triplets."""

from __future__ import annotations

from domainteb.domains.base import register_builders, register_train_pairs, register_training_corpus
from domainteb.domains.general import wordnet
from domainteb.domains.leakage import register_train_entities
from domainteb.domains.general.wordnet import general_corpus, general_triplets

register_builders(wordnet)
register_train_entities("wordnet-synset", lambda: {s.id for s in wordnet._partition("train")})
register_training_corpus("general", general_corpus)
register_train_pairs("general", general_triplets)

__all__ = ["general_corpus", "general_triplets"]
