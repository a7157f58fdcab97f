"""Mailchimp merge tags in imported HTML, translated to Decant's tokens.

A Mailchimp export writes ``*|FNAME|*``, ``*|UNSUB|*``, ``*|LIST:ADDRESS|*`` and
conditionals (``*|IF:FNAME|*...*|ELSE:|*...*|END:IF|*``), sometimes with the pipes
URL-encoded inside links (``*%7CUNSUB%7C*``). Each tag Decant has a value for becomes its
token (the fallback idiom ``*|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|*`` becomes
``{{ customer_name|default('there') }}``); the others are left as written and reported,
so the person saving sees what would go out literally. A custom field's tag is its key in
upper case (as Decant's own Mailchimp sync names them).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Mailchimp's tags and the token each becomes.
TAG_TOKENS: dict[str, str] = {
    "FNAME": "customer_name",
    "TERRITORY": "territory",
    "REP": "rep_name",
    "LASTORDER": "last_order_date",
    "EMAIL": "email",
    "UNSUB": "unsubscribe_url",
    "UPDATE_PROFILE": "preferences_url",
    "LIST:ADDRESS": "postal_address",
    "LIST:ADDRESSLINE": "postal_address",
    "LIST:ADDRESS_HTML": "postal_address",
    "HTML:LIST_ADDRESS": "postal_address",
    "HTML:LIST_ADDRESS_HTML": "postal_address",
    "MC:DATE": "today",
    "DATE:Y-M-D": "today",
}
_PIPE = r"(?:\||%7[Cc])"
_TAG = re.compile(rf"\*{_PIPE}([A-Za-z0-9_:\-/ ]+?){_PIPE}\*")
_FALLBACK = re.compile(
    rf"\*{_PIPE}IF:([A-Z0-9_:]+){_PIPE}\*\*{_PIPE}\1{_PIPE}\*"
    rf"\*{_PIPE}ELSE:{_PIPE}\*([^*<>{{}}]*)\*{_PIPE}END:IF{_PIPE}\*"
)


@dataclass
class MergeReport:
    """Which tags became which token (with counts) and which were left as written."""

    translated: Counter[tuple[str, str]] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "translated": [
                {"tag": f"*|{tag}|*", "token": f"{{{{ {token} }}}}", "count": n}
                for (tag, token), n in sorted(self.translated.items())
            ],
            "unknown": [
                {"tag": f"*|{tag}|*", "count": n} for tag, n in sorted(self.unknown.items())
            ],
        }

    def __bool__(self) -> bool:
        return bool(self.translated or self.unknown)


def translate(
    source: str, custom_keys: Callable[[Iterable[str]], set[str]] = lambda names: set()
) -> tuple[str, MergeReport]:
    """``source`` with merge tags made tokens, and the report. ``custom_keys`` says which
    of some names are custom field keys (so ``*|WINE_CLUB|*`` becomes ``{{ wine_club }}``)."""
    report = MergeReport()
    if "*|" not in source and "*%7" not in source.upper():
        return source, report
    names = {m.group(1) for m in _TAG.finditer(source)}
    condition_names = {n.split(":", 1)[1] for n in names if n.upper().startswith(("IF:", "IFNOT:"))}
    plain = {n for n in names | condition_names if ":" not in n and n.upper() not in TAG_TOKENS}
    known_custom = custom_keys({n.lower() for n in plain})

    def token_for(tag: str) -> str | None:
        upper = tag.upper()
        if upper in TAG_TOKENS:
            return TAG_TOKENS[upper]
        return tag.lower() if tag.lower() in known_custom else None

    def fallback(match: re.Match[str]) -> str:
        token = token_for(match.group(1))
        if token is None:
            return match.group(0)
        report.translated[(match.group(1), token)] += 1
        return f"{{{{ {token}|default({match.group(2)!r}) }}}}"

    source = _FALLBACK.sub(fallback, source)

    def one(match: re.Match[str]) -> str:
        tag = match.group(1)
        upper = tag.upper()
        for prefix, open_block in (("IF:", "{%% if %s %%}"), ("IFNOT:", "{%% if not %s %%}")):
            if upper.startswith(prefix):
                token = token_for(tag[len(prefix) :])
                if token is None:
                    break
                report.translated[(tag, token)] += 1
                return open_block % token
        else:
            if upper in ("ELSE:", "END:IF"):
                return match.group(0)  # settled below, once their IF is known
            token = token_for(tag)
            if token is not None:
                report.translated[(tag, token)] += 1
                return f"{{{{ {token} }}}}"
        report.unknown[tag] += 1
        return match.group(0)

    source = _TAG.sub(one, source)
    return _close_blocks(source), report


def _close_blocks(source: str) -> str:
    """``*|ELSE:|*`` and ``*|END:IF|*`` become Jinja's where their IF was translated (a
    stack of open conditionals), and are left where it was not (the IF is reported)."""
    out: list[str] = []
    pos = 0
    stack: list[bool] = []
    opener = re.compile(r"\{% if (?:not )?[a-z_][a-z0-9_]* %\}|" + _TAG.pattern)
    for match in opener.finditer(source):
        out.append(source[pos : match.start()])
        pos = match.end()
        text = match.group(0)
        tag = (match.group(1) or "").upper()
        if text.startswith("{%"):
            stack.append(True)
        elif tag.startswith(("IF:", "IFNOT:")):
            stack.append(False)
        elif tag in ("ELSE:", "END:IF"):
            translated = bool(stack) and stack[-1]
            if tag == "END:IF" and stack:
                stack.pop()
            if translated:
                text = "{% else %}" if tag == "ELSE:" else "{% endif %}"
        out.append(text)
    out.append(source[pos:])
    return "".join(out)
