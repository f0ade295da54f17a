"""Replies that read well: what a model wrote, made fit to show a person.

Free-text fields are not bounded by a schema `max_length` any more: a constrained decoder stops
the string at the bound, mid-word, and a small model then drifted into stray characters
(`disruption to客户`, `risk��`). Length is bounded by the model's token limit and the prompt's
"at most three sentences"; what still comes back too long is cut here at a sentence end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

REPLY_CHARS = 900
"""Longest reply shown; a longer one is cut at the last sentence end before it."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd\u200b]")
# CJK ideographs, kana, hangul and full-width forms: a drift of Qwen models out of the user's
# language (they were trained on much Chinese), never wanted in a reply to a Latin-script user.
_FOREIGN = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_SENTENCE_END = re.compile(r"[.!?…)](?=\s|$)")
_SENTENCES = re.compile(r"[^.!?…]+[.!?…]*\s*")
_QUOTED = re.compile(r'"[^"]*"|\u201c[^\u201d]*\u201d')
_FIELDS = re.compile(
    r'"(handoff_to|reply|facts|choice|confidence|rationale)"\s*:\s*|\bhandoff_to\b\s*:?\s*'
)


def tidy(text: str, *, prompt: Iterable[str] = (), limit: int = REPLY_CHARS) -> str:
    """Returns `text` fit to show a user.

    - stray control and replacement characters are removed;
    - a reply in Latin script that drifts into CJK characters ends before the drift, at the
      last sentence end;
    - a JSON object or control field names (`handoff_to:`) are never shown: the reply inside
      is taken, the field names dropped;
    - a sentence copied from the agent's own instructions (`prompt`) is dropped, unless
      they quote it for the agent to say;
    - a reply longer than `limit` characters is cut at its last sentence end before it.

    Args:
        text: What the model wrote.
        prompt: The lines of the agent's instructions, which must not leak into the reply.
        limit: Most characters kept.
    """
    text = _unwrap(_CONTROL.sub("", text)).strip()
    text = _FIELDS.sub("", text)
    latin = sum(c.isascii() and c.isalpha() for c in text)
    if (drift := _FOREIGN.search(text)) and latin > len(_FOREIGN.findall(text)):
        text = _to_sentence_end(text[: drift.start()])
    # What the instructions quote is what the agent is told to say ("Your account is open."),
    # not a leak.
    lines = (_QUOTED.sub(" ", line).strip() for line in prompt)
    leaked = [line.lower() for line in lines if len(line) >= 20]
    if leaked:
        kept = [s for s in _SENTENCES.findall(text) if not _copied(s, leaked)]
        text = "".join(kept).strip() or text
    if len(text) > limit:
        text = _to_sentence_end(text[:limit])
    return text.strip()


def _unwrap(text: str) -> str:
    # A model sometimes nests its whole answer as JSON inside the reply string.
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            inner = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(inner, dict):
            for key in ("reply", "answer", "result", "message"):
                if isinstance(inner.get(key), str):
                    return str(inner[key])
    return text


def _copied(sentence: str, prompt: list[str]) -> bool:
    said = sentence.strip().lower()
    return len(said) >= 20 and any(said in line for line in prompt)


def _to_sentence_end(text: str) -> str:
    ends = list(_SENTENCE_END.finditer(text))
    if ends:
        return text[: ends[-1].end()].strip()
    # No sentence end at all: stop at the last whole word.
    words = text.rstrip().rsplit(None, 1)
    cut = words[0] if len(words) > 1 and not text[-1:].isspace() else text
    return cut.rstrip(" ,;:-") + "…" if cut.strip() else ""
