"""Prompt-injection detection in passages, and the checks that keep injected queries out of training.

A passage is untrusted text. :func:`instruction_spans` finds the parts of it that address
the model instead of the reader: override phrases ("ignore previous instructions", in
English, French, German, Spanish, Italian, Portuguese, Russian, Chinese and Japanese), role
headers (``system:``, ``<|im_start|>``, ``[INST]``, ``### Instruction``), requests to output
a given string, and hidden text (HTML comments, Markdown link-reference comments). The same
patterns are also tried on decoded forms of the text: base64 and hex runs, URL-encoding,
ROT13, and with zero-width characters and full-width letters normalised away.

:func:`injection_verdict` then rejects a generated query that

* ``injection_echo``: itself contains an instruction, or uses a word that occurs only in the
  passage's instruction spans (the payload: ``PWNED``, ``the word PWNED as the query``);
* ``ungrounded``: is not about the passage's content: none of its content words occur in the
  passage with the instruction spans removed (at least half must, when the passage carries an
  injection).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u206a-\u206f\ufeff]")
_WORD = re.compile(r"\w+", re.U)

#: phrases that address the model (case-insensitive; ``[^.\n]`` keeps a match inside one sentence).
_VERBS_EN = r"(?:ignore|disregard|forget|override|bypass|skip|drop|abandon)"
_TARGET_EN = r"(?:instructions?|prompts?|rules|directions|directives?|guidelines|orders|commands|above|previous|prior|earlier|system|context|everything)"
INSTRUCTION_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.I | re.M) for p in (
    rf"\b{_VERBS_EN}\b[^.\n]{{0,60}}?\b{_TARGET_EN}\b",
    r"\b(?:new|updated|real|actual|revised|additional|hidden)\s+(?:instructions?|task|rules|directives?|orders)\b\s*[:\-]",
    r"\byou\s+(?:are|must|will|should|shall)\s+(?:now|instead|only)\b",
    r"\b(?:respond|reply|answer|output|print|say|write|return|generate|produce)\s+(?:only|exactly|just|solely)\b",
    r"\bas\s+(?:the|your|each|every)\s+(?:search\s+)?(?:query|queries|answer|response|output)\b",
    r"\b(?:instead|from\s+now\s+on)\s*,?\s*(?:output|write|say|respond|print|return|generate)\b",
    r"\bnote\s+to\s+(?:the\s+)?(?:ai|assistant|model|llm|language\s+model|chatbot|bot)\b",
    r"\b(?:ai|assistant|model|llm|chatbot|language\s+model)s?\s*[:,]\s*(?:please\s+)?(?:ignore|output|write|respond|say|print|return|generate)\b",
    r"\b(?:output|print|say|write|respond\s+with|reply\s+with|answer\s+with|return|repeat)\s+(?:the\s+)?(?:word|phrase|string|text|token|message)s?\b",
    r"^\s*(?:system|assistant|user|developer|human)\s*:",
    r"<\|?\s*(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\s*\|?>",
    r"\[/?(?:INST|SYS)\]|<<\s*/?SYS\s*>>",
    r"#{2,}\s*(?:instructions?|system|response|new\s+task)\b",
    r"\b(?:jailbreak|prompt\s+injection|DAN\s+mode|developer\s+mode)\b",
    # French
    r"\b(?:ignore[rz]?|ignorez|oublie[rz]?|oubliez|n[eé]glige[rz]?)\b[^.\n]{0,60}?\b(?:instructions?|consignes?|r[eè]gles|directives?)\b",
    r"\b(?:[ée]cri(?:s|vez|re)|r[ée]ponds|r[ée]pondez|affiche[rz]?)\s+(?:uniquement|seulement|juste)\b",
    # German
    r"\b(?:ignorier(?:e|en|t)?|vergiss|vergessen|missachte(?:n)?)\b[^.\n]{0,60}?\b(?:anweisungen?|befehle?|regeln|vorgaben|instruktionen)\b",
    r"\b(?:gib|schreib(?:e)?|antworte)\b[^.\n]{0,40}?\b(?:nur|ausschlie(?:ß|ss)lich)\b",
    # Spanish, Portuguese, Italian
    r"\b(?:ignora(?:r|d)?|ignore|olvida(?:r)?|esquece(?:r)?|ignorate|ignori|dimentica(?:te)?)\b[^.\n]{0,60}?\b(?:instrucciones|instru[cç][oõ]es|instruzioni|istruzioni|indicaciones|reglas|regras|regole|[oó]rdenes)\b",
    r"\b(?:escribe|escreva|scrivi|responde|responda|rispondi)\s+(?:solo|solamente|somente|apenas|soltanto|[uú]nicamente)\b",
    # Russian
    r"(?:игнорируй|проигнорируй|забудь|игнорировать)[^.\n]{0,60}?(?:инструкци|указани|правил|команд)",
    # Chinese, Japanese
    r"(?:忽略|无视|忽视|忘记|忘掉|不要理会)[^。\n]{0,30}?(?:指令|指示|说明|规则|提示|要求)",
    r"(?:指示|命令|ルール|指令)[をは]?(?:すべて)?(?:無視|忘れ)",
    r"(?:只|仅)(?:输出|回答|写)",
))
#: hidden text: nobody reading the document sees it, so it is never passage content.
HIDDEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"<!--.*?(?:-->|$)", re.S),
    re.compile(r"^\s*\[(?://|comment|_?hidden)\]:\s*(?:#|<>)\s*[\(\"'].*$", re.I | re.M),
    re.compile(r"<\s*(?:span|div|p)[^>]*(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0)[^>]*>.*?<\s*/\s*(?:span|div|p)\s*>", re.I | re.S),
)
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[ :]?){12,}\b")
_URLENC = re.compile(r"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9._~+-]){6,}")
_SENTENCE_END = re.compile(r"[.!?。！？](?=\s|$)|\n|\[/INST\]|<\|\s*im_end\s*\|>|<<\s*/SYS\s*>>|-->")
MIN_GROUNDED_FRACTION_WHEN_INJECTED = 0.5


def prepare(text: str) -> str:
    """NFKC (full-width letters → ASCII) with invisible characters removed."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def content_words(text: str) -> list[str]:
    """Lower-cased words of 2+ characters that are not English stop words (digits kept)."""
    return [w for w in _WORD.findall(prepare(text).lower()) if len(w) >= 2 and w not in ENGLISH_STOP_WORDS]


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word


def _is_texty(data: bytes) -> str | None:
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in s)
    return s if s and printable / len(s) > 0.95 and sum(ch.isalpha() for ch in s) >= 0.5 * len(s.replace(" ", "")) else None


def _decoded_views(text: str) -> list[tuple[int, int, str]]:
    """(start, end, decoded text) for encoded runs inside ``text``."""
    views: list[tuple[int, int, str]] = []
    for m in _BASE64.finditer(text):
        token = m.group(0)
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = _is_texty(raw)
        if decoded:
            views.append((m.start(), m.end(), decoded))
    for m in _HEX.finditer(text):
        try:
            decoded = _is_texty(bytes.fromhex(re.sub(r"[ :]", "", m.group(0))))
        except ValueError:
            continue
        if decoded:
            views.append((m.start(), m.end(), decoded))
    for m in _URLENC.finditer(text):
        if "%" in m.group(0):
            decoded = urllib.parse.unquote_plus(m.group(0))
            if decoded != m.group(0):
                views.append((m.start(), m.end(), decoded))
    return views


#: a sentence that continues an instruction (it carries the payload): "Output X." "Just say X."
_FOLLOW = re.compile(
    r"^\s*(?:output|say|write|print|respond|reply|return|answer|then|and|instead|just|only|repeat|use|make|type|"
    r"generate|put|always|simply|your\s+(?:query|answer|output)|the\s+(?:query|answer|word|output))\b", re.I)


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence (or line) around [start, end), plus the next one when it continues the instruction."""
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    if any(t.end() == end for t in _SENTENCE_END.finditer(text, start, end)):  # the match closes its sentence
        return left, end
    ends = [m.end() for m in _SENTENCE_END.finditer(text, end)][:2]
    right = ends[0] if ends else len(text)
    if len(ends) > 1:
        following = text[right:ends[1]]
        if _FOLLOW.match(following) or len(following.split()) <= 2:
            right = ends[1]
    return left, right


@dataclass(frozen=True)
class Scan:
    """What :func:`scan_passage` found in one passage."""

    spans: tuple[tuple[int, int], ...]   # instruction-like spans in the prepared text
    injected_text: str                   # the spans' text plus decoded payloads
    clean_text: str                      # the passage with the spans removed

    @property
    def injected(self) -> bool:
        return bool(self.spans)


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return tuple((s, e) for s, e in out)


def has_instruction(text: str) -> bool:
    t = prepare(text)
    return any(p.search(t) for p in INSTRUCTION_PATTERNS)


@lru_cache(maxsize=4096)
def scan_passage(passage: str) -> Scan:
    text = prepare(passage)
    spans: list[tuple[int, int]] = []
    extra: list[str] = []
    for pat in HIDDEN_PATTERNS:
        spans += [(m.start(), m.end()) for m in pat.finditer(text)]
    hidden = list(spans)
    rot = codecs.decode(text, "rot13")
    for view in (text, rot):
        for pat in INSTRUCTION_PATTERNS:
            for m in pat.finditer(view):
                if any(hs <= m.start() and m.end() <= he for hs, he in hidden):
                    continue
                s, e = _sentence_bounds(text, m.start(), m.end())
                spans.append((s, e))
                if view is rot:
                    extra.append(rot[s:e])
    for s, e, decoded in _decoded_views(text):
        if has_instruction(decoded):
            spans.append((s, e))
            extra.append(decoded)
    merged = _merge(spans)
    clean, injected, pos = [], [], 0
    for s, e in merged:
        clean.append(text[pos:s])
        injected.append(text[s:e])
        pos = e
    clean.append(text[pos:])
    return Scan(merged, " ".join(injected + extra), " ".join(clean))


def instruction_spans(passage: str) -> list[str]:
    """The instruction-like parts of ``passage`` (empty for a clean passage)."""
    scan = scan_passage(passage)
    text = prepare(passage)
    return [text[s:e] for s, e in scan.spans]


def injection_verdict(query: str, passage: str) -> str | None:
    """``"injection_echo"``, ``"ungrounded"`` or None (the query is fine)."""
    if has_instruction(query):
        return "injection_echo"
    scan = scan_passage(passage)
    qwords = content_words(query)
    clean = set(content_words(scan.clean_text))
    clean_stems = {_stem(w) for w in clean}
    if scan.injected:
        payload = set(content_words(scan.injected_text)) - clean
        payload_stems = {_stem(w) for w in payload} - clean_stems
        if any(w in payload or _stem(w) in payload_stems for w in qwords):
            return "injection_echo"
    if not qwords:
        return None
    grounded = sum(w in clean or _stem(w) in clean_stems for w in qwords)
    if grounded == 0:
        return "ungrounded"
    if scan.injected and grounded / len(qwords) < MIN_GROUNDED_FRACTION_WHEN_INJECTED:
        return "ungrounded"
    return None
