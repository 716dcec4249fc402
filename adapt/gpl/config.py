"""GPL settings: ``conf/adapt/gpl.yaml`` (defaults) overlaid with a compute profile
(``conf/gpl_profile/<cpu|gpu>.yaml``) and the caller's overrides, validated by pydantic.

Every unknown key or bad value is a one-line :class:`~domainteb.core.errors.ConfigError`
naming the key (exit status 2 through the CLI).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domainteb.core.errors import ConfigError
from domainteb.eval.search.settings import SearchSettings

DEFAULTS_FILE = ("adapt", "gpl.yaml")
PROFILE_FOLDER = "gpl_profile"
Miner = Literal["bm25", "base"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MiningConfig(_Strict):
    """Hard negatives from the same corpus (GPL step 2) and the false-negative guard."""

    #: ``bm25``: bm25s over the chunks; ``base``: the base model itself (dense search with ``search``'s backend).
    miners: list[Miner] = Field(default_factory=lambda: ["bm25", "base"])
    #: candidates per miner (GPL: 50).
    candidates: int = 50
    #: negatives kept per miner and query, taken from the top of the candidates that pass the guard.
    negatives_per_miner: int = 3
    #: ranks skipped at the top of each miner's list (near-duplicates of the source are often relevant).
    range_min: int = 0
    #: dense guard: drop a candidate whose base-model score is within this fraction of the positive's.
    relative_margin: float = 0.05
    #: CE guard: drop a negative the teacher scores >= CE(q, pos) - ce_false_negative_margin (a likely positive).
    ce_false_negative_margin: float = 0.0
    #: the ``base`` miner's dense search: domainteb's search settings (``search.*`` of conf/eval.yaml: backend
    #: exact | faiss-flat | faiss-ivf | faiss-hnsw, corpus_chunk_size, dtype, ...); top-k is streamed, never a
    #: query × corpus score matrix.
    search: SearchSettings = Field(default_factory=SearchSettings)

    @field_validator("search")
    @classmethod
    def _backend(cls, value: SearchSettings) -> SearchSettings:
        from domainteb.eval.search.backends import BACKENDS

        if value.backend not in BACKENDS:
            raise ValueError(f"unknown search backend {value.backend!r}; use one of {', '.join(BACKENDS)}")
        return value

    def identity(self) -> dict[str, Any]:
        """What changes the mined negatives (cache and run keys); the default search is left out, so
        keys from before the setting existed stay valid (exact search mines what they mined)."""
        dump = self.model_dump()
        if self.search.scoring_key() == SearchSettings().scoring_key():
            del dump["search"]
        else:
            dump["search"] = self.search.scoring_key()
        return dump

    @model_validator(mode="after")
    def _check(self) -> MiningConfig:
        if not self.miners:
            raise ValueError("miners is empty; use [bm25], [base] or [bm25, base]")
        if self.candidates < 1 or self.negatives_per_miner < 1:
            raise ValueError("candidates and negatives_per_miner must be >= 1")
        if self.range_min < 0 or self.range_min + self.negatives_per_miner > self.candidates:
            raise ValueError("range_min + negatives_per_miner must fit in candidates")
        return self


class FilterConfig(_Strict):
    """Query filters, each with its survival count in the summary."""

    #: keep a query only if CE(q, source passage) (raw logit) >= this; null disables.
    ce_min_score: float | None = 0.0
    #: additionally keep only this top fraction of queries by CE(q, pos) (InPars style); null = all.
    ce_keep_fraction: float | None = None
    #: round-trip consistency: the source passage must be in the base (student) model's top-k; null disables.
    round_trip_k: int | None = 20

    @field_validator("ce_keep_fraction")
    @classmethod
    def _fraction(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value <= 1:
            raise ValueError("ce_keep_fraction must be in (0, 1]")
        return value


class DevConfig(_Strict):
    """Dev curve: a held-out slice of the *generated* queries (never the eval set's queries)."""

    queries: int = 100
    #: passages the dev queries are ranked among: their sources plus a seeded random sample (null = all chunks).
    corpus: int | None = 500


class TrainConfig(_Strict):
    """Trainer settings (mapped onto :class:`domainteb.adapt.finetune.FinetuneConfig`)."""

    max_steps: int = 200
    batch_size: int = 16
    learning_rate: float = 2.0e-5
    warmup_ratio: float = 0.1
    lr_scheduler: str = "linear"
    weight_decay: float = 0.01
    eval_steps: int = 50
    save_steps: int = 50
    save_total_limit: int = 2
    logging_steps: int = 10
    max_seq_length: int | None = 256
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    #: cosine similarity is multiplied by this before MarginMSE (CE logits span ~[-10, 10], cosine [-1, 1]).
    similarity_scale: float = 20.0


class GPLConfig(_Strict):
    """One GPL (or QGen) adaptation run."""

    #: ``gpl``: MarginMSE on cross-encoder margins; ``qgen``: MNRL on the same (query, source) pairs.
    method: Literal["gpl", "qgen"] = "gpl"
    profile: str = "cpu"
    base: str = "bge-small"
    #: the teacher: a registry cross-encoder (ms-marco-reranker), a CrossEncoder folder or a hub id.
    teacher: str = "ms-marco-reranker"
    #: at most this many generated queries (seeded sample after de-duplication); null = all.
    max_queries: int | None = None
    ce_batch_size: int = 32
    ce_max_length: int = 320
    #: queries per CE shard file (the resume unit of pseudo-labelling).
    ce_shard: int = 256
    encode_batch_size: int = 32
    mining: MiningConfig = Field(default_factory=MiningConfig)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    dev: DevConfig = Field(default_factory=DevConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    seed: int = 42
    device: str = "auto"
    #: also load a base folder whose weights are pickles (pytorch_model.bin); only for folders you trust
    allow_pickle: bool = False

    def identity(self) -> dict[str, Any]:
        """The settings a finished run is keyed on (the default mining search left out; see MiningConfig.identity)."""
        dump = self.model_dump(exclude={"device", "profile", "allow_pickle"})
        dump["mining"] = self.mining.identity()
        return dump

    def check(self) -> None:
        t = self.train
        if t.max_steps <= 0:
            raise ConfigError(f"gpl.train.max_steps={t.max_steps}: must be > 0")
        if t.batch_size < 2:
            raise ConfigError(f"gpl.train.batch_size={t.batch_size}: needs at least 2")
        if t.save_steps % t.eval_steps:
            raise ConfigError(
                f"gpl.train.save_steps={t.save_steps} must be a multiple of gpl.train.eval_steps={t.eval_steps}"
            )
        if self.dev.queries < 1:
            raise ConfigError("gpl.dev.queries must be >= 1 (the best checkpoint is chosen on them)")


def _read_yaml(*parts: str) -> dict[str, Any]:
    file = resources.files("domainteb.conf").joinpath(*parts)
    where = "conf/" + "/".join(parts)
    if not file.is_file():
        raise ConfigError(f"{where}: not found")
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    data.pop("defaults", None)
    return data


def profile_names() -> list[str]:
    folder = resources.files("domainteb.conf").joinpath(PROFILE_FOLDER)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _dotted(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"train.max_steps": 5}`` → ``{"train": {"max_steps": 5}}`` (nested mappings pass through)."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = dict(value) if isinstance(value, Mapping) else value
    return out


def build_config(values: Mapping[str, Any]) -> GPLConfig:
    """Validate a mapping; errors name the key, e.g. ``gpl.train.max_step is not a setting``."""
    try:
        cfg = GPLConfig(**dict(values))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"gpl.{loc} is not a GPL setting; see conf/adapt/gpl.yaml") from None
        raise ConfigError(f"gpl.{loc}={err.get('input')!r}: {err['msg']}") from None
    cfg.check()
    return cfg


def load_gpl_config(profile: str = "cpu", overrides: Mapping[str, Any] | None = None) -> GPLConfig:
    """Defaults ← profile ← overrides (dotted keys allowed: ``{"train.max_steps": 5}``)."""
    if profile not in profile_names():
        raise ConfigError(f"profile={profile!r} is unknown; use one of {', '.join(profile_names())}")
    values = _read_yaml(*DEFAULTS_FILE)
    values.pop("name", None)
    values = _merge(values, _read_yaml(PROFILE_FOLDER, f"{profile}.yaml"))
    values = _merge(values, _dotted(overrides or {}))
    values["profile"] = profile
    return build_config(values)
