"""Carrier consent keywords (STOP, START, HELP...): single-word, case-insensitive."""

from __future__ import annotations

from typing import Literal

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})

Keyword = Literal["opt_out", "opt_in", "help"]
#: Twilio's OptOutType field (Advanced Opt-Out) -> our keyword kind.
_OPT_OUT_TYPES: dict[str, Keyword] = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}


def normalise(body: str | None) -> str:
    """The message as one upper-case word, or "" when it is not a single word."""
    words = (body or "").split()
    if len(words) != 1:
        return ""
    return words[0].strip(".!").upper()


def classify(body: str | None, opt_out_type: str | None = None) -> Keyword | None:
    """Which consent keyword a message is; Twilio's OptOutType wins when present."""
    if opt_out_type:
        kind = _OPT_OUT_TYPES.get(opt_out_type.strip().upper())
        if kind:
            return kind
    word = normalise(body)
    if word in OPT_OUT:
        return "opt_out"
    if word in OPT_IN:
        return "opt_in"
    if word in HELP:
        return "help"
    return None
