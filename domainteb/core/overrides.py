"""Check a stage's ``key=value`` overrides against its composed config before Hydra runs it.

Hydra's own errors are several lines plus a hint about ``HYDRA_FULL_ERROR``, and ``+foo=1``
(appending a key no stage reads) silently does nothing. Here every override is parsed with
Hydra's parser, group choices are composed with Hydra's compose API, and each plain key must
exist in the result: an unknown key raises one :class:`~domainteb.core.errors.ConfigError`
listing the closest valid keys. ``+a.b=v`` may add ``b`` to an existing mapping ``a`` (a stage
validates its own nested keys); a top-level ``+key`` must be a key the stage declares.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from domainteb.core.errors import ConfigError

CONFIG_MODULE = "domainteb.conf"
#: Hydra flags that take a value (the value is not an override).
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-name", "-cn", "--config-path", "-cp",
                     "--config-dir", "-cd", "--experimental-rerun", "--info", "-i"}


def split_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(flags, overrides)``: Hydra flags with their values (``-m``, ``--cfg job``) and the ``key=value`` rest.

    Hydra's argument parser wants the overrides in one run, so a command line is rebuilt as
    flags first, then overrides."""
    flags: list[str] = []
    overrides: list[str] = []
    takes_value = False
    for arg in args:
        if takes_value:
            flags.append(arg)
            takes_value = False
        elif arg.startswith("-") and not arg.startswith("~"):
            flags.append(arg)
            takes_value = arg in _FLAGS_WITH_VALUE and arg not in {"--info", "-i"} and "=" not in arg
        else:
            overrides.append(arg)
    return flags, overrides


def override_tokens(args: Sequence[str]) -> list[str]:
    """The ``key=value`` arguments (flags such as ``-m`` and ``--cfg job`` are left out)."""
    return split_args(args)[1]


def config_groups() -> set[str]:
    """Names of the config groups (sub-folders of ``domainteb/conf``)."""
    root = resources.files(CONFIG_MODULE)
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")}


def _one_line(exc: BaseException) -> str:
    text = str(exc).split("Set the environment variable HYDRA_FULL_ERROR")[0]
    if exc.__cause__ is not None and str(exc.__cause__).strip() and str(exc.__cause__) not in text:
        text = f"{text}: {exc.__cause__}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("full_key:", "object_type"))]
    return " ".join(lines)


def flat_keys(node: Any, prefix: str = "") -> list[str]:
    from omegaconf import DictConfig

    keys = []
    if isinstance(node, DictConfig):
        for key in node.keys():
            full = f"{prefix}{key}"
            keys.append(full)
            try:
                child = node._get_node(key)
            except Exception:
                continue
            if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
                keys.extend(flat_keys(child, prefix=f"{full}."))
    return keys


def _unknown_key(stage: str, key: str, known: list[str], how: str) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=4, cutoff=0.5)
    if not close:
        last = key.rpartition(".")[2]
        close = [k for k in known if k.rpartition(".")[2] == last or last in k][:4]
    hint = f"closest valid keys: {', '.join(close)}" if close else f"valid keys: {', '.join(k for k in known if '.' not in k)}"
    return ConfigError(f"{how} {key!r} is not a setting of 'domainteb {stage}'; {hint} "
                       f"('domainteb {stage} --help' lists every key)")


def _exists(cfg: Any, key: str) -> bool:
    from omegaconf import OmegaConf

    try:
        return OmegaConf.select(cfg, key, throw_on_missing=False, throw_on_resolution_failure=False,
                                default="__absent__") != "__absent__"
    except Exception:
        return False


def check_overrides(stage: str, config_name: str, args: Sequence[str], multirun: bool) -> None:
    """Raise one :class:`ConfigError` for an override Hydra cannot apply or that names no setting."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType
    from omegaconf import DictConfig, OmegaConf

    tokens = override_tokens(args)
    if not tokens:
        return
    try:
        parsed = OverridesParser.create().parse_overrides(tokens)
    except Exception as exc:
        raise ConfigError(f"cannot parse the overrides: {_one_line(exc)}") from None
    groups = config_groups()
    group_overrides, key_overrides, hydra_overrides = [], [], []
    for override in parsed:
        key = override.key_or_group
        line = override.input_line or ""
        if key == "hydra" or key.startswith(("hydra.", "hydra/")):
            hydra_overrides.append(line)  # Hydra's own settings: applied in the final compose only
            continue
        if override.is_sweep_override():
            if not multirun:
                raise ConfigError(
                    f"{line!r} sweeps over several values: add -m to sweep, write {key}=[...] for a list, "
                    f"or quote the value for a string"
                )
            line = f"{override.get_key_element()}={next(iter(override.sweep_string_iterator()))}"
        is_group = key.split("/")[0] in groups and "." not in key
        (group_overrides if is_group else key_overrides).append((override, line))
    if GlobalHydra.instance().is_initialized():
        return  # inside another Hydra app (tests): leave checking to that app
    with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
        try:
            base = compose(config_name=config_name, overrides=[line for _, line in group_overrides])
        except Exception as exc:
            raise ConfigError(_one_line(exc)) from None
        known = flat_keys(base)
        for override, _ in key_overrides:
            key = override.key_or_group
            if override.type in (OverrideType.ADD, OverrideType.FORCE_ADD):
                parent = key.rpartition(".")[0]
                if not parent:
                    if not _exists(base, key):
                        raise _unknown_key(stage, key, known, "appended key")
                elif not isinstance(OmegaConf.select(base, parent, default=None, throw_on_resolution_failure=False),
                                    DictConfig):
                    raise _unknown_key(stage, key, known, "appended key")
            elif not _exists(base, key):
                raise _unknown_key(stage, key, known, "key")
        try:
            compose(config_name=config_name, return_hydra_config=bool(hydra_overrides),
                    overrides=[line for _, line in group_overrides + key_overrides] + hydra_overrides)
        except Exception as exc:
            raise ConfigError(_one_line(exc)) from None
