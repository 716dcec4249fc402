"""GPL: adapt any sentence-transformers model to an unlabelled corpus (Wang et al., NAACL 2022).

Generated queries → hard negatives mined from the same corpus (BM25 and the base model) with a
false-negative guard → cross-encoder margins → MarginMSE, with a CE-score filter, round-trip
consistency and a dev curve on held-out generated queries (best checkpoint kept). ``method=qgen``
trains MNRL on the same pairs (the ablation)::

    from domainteb.adapt.gpl import load_gpl_config, run
    cfg = load_gpl_config("cpu", {"base": "bge-small"})
    result = run(cfg, "outputs/gpl/medical", chunks_path=".../chunks.jsonl", queries_path=".../queries/ict.jsonl")
    result.model_dir, result.summary
"""

from domainteb.adapt.gpl.config import GPLConfig, build_config, load_gpl_config, profile_names
from domainteb.adapt.gpl.runner import GPLResult, run

__all__ = ["GPLConfig", "GPLResult", "build_config", "load_gpl_config", "profile_names", "run"]
