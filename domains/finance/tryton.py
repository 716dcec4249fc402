"""Accounting terminology translations of ``trytond-account==8.2.1`` → finance bitext mining.

The Tryton accounting module (GPL-3.0) ships gettext translations of its labels, help texts
and messages ("Create Chart of Accounts from Template" ↔ "Kontenplan von Vorlage erstellen").
The package is installed at run time and its ``locale/*.po`` files are read by path; nothing
is copied into this repository. Entries of at least two words whose translation differs
from the English are kept. These strings are not part of the finance fine-tuning corpus,
so the whole source is used for evaluation.
"""

from __future__ import annotations

import functools

from domainteb.core.types import TaskType
from domainteb.domains.base import LIMITS, BuiltSplit, TaskBuilder, columns, sample
from domainteb.domains.sources import clean, package_file, read_po

SPEC = "trytond-account==8.2.1"
MODULE = "trytond.modules.account"
LICENSE = "GPL-3.0-or-later (Tryton)"
CITATION = "Tryton account module 8.2.1 (Tryton foundation), gettext translations of accounting terms."
LANGUAGES: dict[str, tuple[str, str]] = {
    "de": ("De", "deu-Latn"),
    "es": ("Es", "spa-Latn"),
    "fr": ("Fr", "fra-Latn"),
    "pt": ("Pt", "por-Latn"),
    "nl": ("Nl", "nld-Latn"),
    "zh_CN": ("Zh", "zho-Hans"),
}


@functools.lru_cache(maxsize=None)
def pairs(lang: str) -> tuple[tuple[str, str], ...]:
    out, seen1, seen2 = [], set(), set()
    for e in read_po(package_file(MODULE, SPEC, f"locale/{lang}.po")):
        en, tr = clean(e.source), clean(e.translation)
        if len(en.split()) >= 2 and tr.lower() != en.lower() and en not in seen1 and tr not in seen2:
            seen1.add(en)
            seen2.add(tr)
            out.append((en, tr))
    return tuple(out)


def build_bitext(lang: str, size: str) -> dict[str, BuiltSplit]:
    rows = sample([{"sentence1": a, "sentence2": b} for a, b in pairs(lang)], LIMITS[size].pairs, "FinAccountingBitext", lang)
    return {"test": BuiltSplit(columns(rows, ("sentence1", "sentence2")), {f"tryton:{r['sentence1']}" for r in rows})}


def _make(lang: str) -> TaskBuilder:
    suffix, code = LANGUAGES[lang]
    return TaskBuilder(
        name=f"FinAccountingBitextMiningEn{suffix}", domain="finance", type=TaskType.BITEXT_MINING,
        description=f"Find the {code} translation of English accounting terms and help texts (Tryton accounting module).",
        source=SPEC, license=LICENSE, citation=CITATION, build=functools.partial(build_bitext, lang),
        languages=["eng-Latn", code],
    )


BUILDERS = [_make(lang) for lang in LANGUAGES]

