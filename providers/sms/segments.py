"""How many SMS segments a body costs (GSM 03.38 / UCS-2 rules).

A body made only of GSM 03.38 characters is sent as GSM-7: 160 septets fit in one
message, 153 per segment once it is split (the user data header takes the rest). The
characters of the extension table cost two septets (ESC + char) and an escape pair is
never split across two segments. Any other character switches the whole message to
UCS-2: 70 UTF-16 code units in one message, 67 per segment once split, and a surrogate
pair (an emoji, say) is never split across two segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x1B (escape) is left out: it is not a character of its own
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentInfo:
    """``units`` are septets for GSM-7 and UTF-16 code units for UCS-2."""

    encoding: Encoding
    segments: int
    units: int
    characters: int


def is_gsm7(body: str) -> bool:
    """True when every character of ``body`` is in the GSM 03.38 default alphabet."""
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in body)


def _count(costs: list[int], single: int, part: int) -> int:
    """Segments for characters of the given costs, never splitting one character."""
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments


def segment_info(body: str) -> SegmentInfo:
    """Encoding, segment count and length in units of ``body``."""
    if is_gsm7(body):
        costs = [2 if ch in GSM_EXTENSION else 1 for ch in body]
        encoding: Encoding = "GSM-7"
        segments = _count(costs, GSM_SINGLE, GSM_PART)
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
        encoding = "UCS-2"
        segments = _count(costs, UCS2_SINGLE, UCS2_PART)
    return SegmentInfo(encoding, segments, sum(costs), len(body))
