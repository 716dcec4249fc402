"""Model registry: generalist baselines (conf/model(s)/*.yaml), local folders, hub ids, APIs.

``load_model(name)`` returns a :class:`~domainteb.core.encoder.Encoder` (wrapped in the
embedding cache) or, for ``bm25``, an object that is both a ``SearchModel`` and a TF-IDF
encoder. ``list_models()`` lists the registry without loading weights.
"""

from domainteb.eval.models.loader import load_model, list_models
from domainteb.eval.models.spec import ModelSpec, get_spec, registry_names

__all__ = ["ModelSpec", "get_spec", "list_models", "load_model", "registry_names"]
