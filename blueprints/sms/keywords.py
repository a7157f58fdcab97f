"""Consent keywords in inbound texts: STOP, START, HELP and what people actually write.

The FCC's 2024 revocation rule lets a consumer revoke consent "by any reasonable means",
so a STOP is recognised through the noise phones and people add: the text is normalised
(Unicode NFKC so full-width ``ＳＴＯＰ`` is ``STOP``, case folded, zero-width and other
format characters removed, punctuation, quotes and emoji turned into spaces) into words,
politeness words are trimmed from both ends ("please", "thanks"...), and what is left
must be one of the CTIA/FCC keywords or a short revocation phrase.

- **opt_out**: the STOP family, or a phrase such as "stop texting me", "opt out",
  "unsubscribe me" ("Stop please", "'STOP'", "STOP 🛑" all count).
- **opt_in**: START, UNSTOP, YES alone (consent is never inferred from a sentence).
- **help**: HELP or INFO (with politeness words, "HELP?").
- **review**: a message that is none of these but mentions an opt-out word in a longer
  sentence ("I can't stop drinking your Barolo"): not an opt-out, but flagged in the
  inbox for a person to decide.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

Keyword = Literal["opt_out", "opt_in", "help"]

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})

#: Revocations of more than one word (after normalising; "opt-out" is "opt out").
OPT_OUT_PHRASES = frozenset(
    {
        "opt out",
        "stop all",
        "stop texting",
        "stop texting me",
        "stop messaging me",
        "stop sending",
        "stop sending me texts",
        "stop contacting me",
        "unsubscribe me",
        "remove me",
        "revoke consent",
        "cancel texts",
        "end texts",
        "no more texts",
        "leave me alone",
        "do not text me",
        "dont text me",
        "don t text me",
    }
)
#: Words of courtesy or emphasis trimmed from both ends before matching.
FILLERS = frozenset({"please", "pls", "plz", "thanks", "thank", "you", "thx", "now", "ok"})
#: Words whose mere presence in a longer message asks for a person's eyes.
_REVIEW_WORDS = frozenset(w.lower() for w in OPT_OUT) | {"unsub", "optout"}
_REVIEW_PHRASES = ("opt out", "remove me", "stop texting", "stop messaging", "no more texts")

#: Twilio's OptOutType field (Advanced Opt-Out) -> our keyword kind.
_OPT_OUT_TYPES: dict[str, Keyword] = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}


@dataclass(frozen=True)
class Match:
    """What a text means for consent: a keyword kind (or None), the canonical keyword or
    phrase that matched (upper case, for the consent history), and whether a person
    should look at it."""

    kind: Keyword | None
    keyword: str = ""
    review: bool = False


def words(body: str | None) -> list[str]:
    """The text as case-folded words, without punctuation, quotes, emoji or invisibles."""
    text = unicodedata.normalize("NFKC", body or "")
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf" or category.startswith("M"):
            continue  # zero-width space/joiner, BOM, variation selectors, combining marks
        kept.append(char if category[0] in "LN" else " ")
    return "".join(kept).casefold().split()


def normalise(body: str | None) -> str:
    """The message as one upper-case word, or "" when it is not a single word."""
    found = words(body)
    return found[0].upper() if len(found) == 1 else ""


def _trim(found: list[str]) -> list[str]:
    start, end = 0, len(found)
    while start < end and found[start] in FILLERS:
        start += 1
    while end > start and found[end - 1] in FILLERS:
        end -= 1
    return found[start:end]


def match(body: str | None, opt_out_type: str | None = None) -> Match:
    """Classify an inbound text; Twilio's OptOutType wins when present."""
    if opt_out_type:
        kind = _OPT_OUT_TYPES.get(opt_out_type.strip().upper())
        if kind:
            return Match(kind, opt_out_type.strip().upper())
    found = words(body)
    if len(found) == 1 and found[0].upper() in OPT_IN:
        return Match("opt_in", found[0].upper())
    core = _trim(found)
    phrase = " ".join(core)
    if len(core) == 1 and phrase.upper() in OPT_OUT:
        return Match("opt_out", phrase.upper())
    if phrase in OPT_OUT_PHRASES:
        return Match("opt_out", phrase.upper())
    if len(core) == 1 and phrase.upper() in HELP:
        return Match("help", phrase.upper())
    text = " ".join(found)
    mentions = any(w in _REVIEW_WORDS for w in found) or any(
        f" {p} " in f" {text} " for p in _REVIEW_PHRASES
    )
    return Match(None, review=mentions)


def classify(body: str | None, opt_out_type: str | None = None) -> Keyword | None:
    """Which consent keyword a message is (see :func:`match`)."""
    return match(body, opt_out_type).kind
