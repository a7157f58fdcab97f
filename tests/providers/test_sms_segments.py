"""GSM 03.38 / UCS-2 segment counting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.sms.segments import GSM_BASIC, GSM_EXTENSION, segment_info

GSM_CHARS = sorted(GSM_BASIC | GSM_EXTENSION)
OTHER_CHARS = ["я", "ç", "😀", "👍", "\U0001f3fd", "中", "`", "\u00a0"]
mostly_gsm = st.text(
    alphabet=st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(OTHER_CHARS)), max_size=400
)
any_text = st.one_of(mostly_gsm, st.text(max_size=300))
any_char = st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(OTHER_CHARS), st.characters())


@pytest.mark.parametrize(
    ("body", "encoding", "segments", "units"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("€", "GSM-7", 1, 2),
        ("Price: 10€ {net}", "GSM-7", 1, 19),
        ("€" * 80, "GSM-7", 1, 160),
        ("€" * 80 + "a", "GSM-7", 2, 161),
        ("\f", "GSM-7", 1, 2),
        # the escape pair may not straddle segments: 152 + (2 + 151) + 1
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3, 306),
        ("ÆØÅ æøå ÄÖÑÜ §¿¡ ΔΩ", "GSM-7", 1, 19),
        ("я" * 70, "UCS-2", 1, 70),
        ("я" * 71, "UCS-2", 2, 71),
        ("я" * 134, "UCS-2", 2, 134),
        ("я" * 135, "UCS-2", 3, 135),
        ("ç", "UCS-2", 1, 1),
        ("a" * 159 + "`", "UCS-2", 3, 160),
        ("😀", "UCS-2", 1, 2),
        ("😀" * 35, "UCS-2", 1, 70),
        ("😀" * 35 + "a", "UCS-2", 2, 71),
        # the surrogate pair may not straddle segments: 66 + (2 + 65) + 1
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 3, 134),
        ("€ and 😀", "UCS-2", 1, 8),
    ],
)
def test_known_examples(body: str, encoding: str, segments: int, units: int) -> None:
    info = segment_info(body)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)
    assert info.characters == len(body)


def test_escape_character_itself_is_not_gsm() -> None:
    assert segment_info("a\x1bb").encoding == "UCS-2"


@given(body=any_text, char=any_char)
def test_appending_never_decreases_segments(body: str, char: str) -> None:
    assert segment_info(body + char).segments >= segment_info(body).segments


@given(body=any_text)
def test_segments_hold_what_the_rules_allow(body: str) -> None:
    info = segment_info(body)
    gsm = all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in body)
    assert info.encoding == ("GSM-7" if gsm else "UCS-2")
    single, part = (160, 153) if gsm else (70, 67)
    if not body:
        assert info.segments == 0
    elif info.units <= single:
        assert info.segments == 1
    else:
        # every segment but the last is full to within one split character (2 units)
        assert (info.segments - 1) * (part - 1) < info.units <= info.segments * part


@given(body=st.text(alphabet=st.sampled_from(sorted(GSM_BASIC)), max_size=400))
def test_basic_gsm_costs_one_septet_per_character(body: str) -> None:
    info = segment_info(body)
    assert info.units == len(body)
    expected = 0 if not body else 1 if len(body) <= 160 else -(-len(body) // 153)
    assert info.segments == expected
