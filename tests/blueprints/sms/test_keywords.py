"""Table-driven: what each inbound wording means for consent (blueprints.sms.keywords)."""

from __future__ import annotations

import pytest

from blueprints.sms.keywords import match, normalise, words

ZWSP = "\u200b"

# (text, kind, keyword recorded, flagged for review)
CASES = [
    # issue 20 item 3: every one of these must opt out
    ("STOP?", "opt_out", "STOP", False),
    ("Stop,", "opt_out", "STOP", False),
    ("'STOP'", "opt_out", "STOP", False),
    ("STOP 🛑", "opt_out", "STOP", False),
    ("ＳＴＯＰ", "opt_out", "STOP", False),
    ("STOP" + ZWSP, "opt_out", "STOP", False),
    ("Stop please", "opt_out", "STOP", False),
    ("please stop", "opt_out", "STOP", False),
    ("Stop texting me", "opt_out", "STOP TEXTING ME", False),
    ("Opt out", "opt_out", "OPT OUT", False),
    ("OPT-OUT", "opt_out", "OPT OUT", False),
    # the rest of the families and phrases, through the same noise
    ("stopall", "opt_out", "STOPALL", False),
    ("Unsubscribe me", "opt_out", "UNSUBSCRIBE ME", False),
    ("unsubscribe!!", "opt_out", "UNSUBSCRIBE", False),
    ("«Cancel»", "opt_out", "CANCEL", False),
    ("end.", "opt_out", "END", False),
    ("Quit 🙏", "opt_out", "QUIT", False),
    ("revoke", "opt_out", "REVOKE", False),
    ("OptOut", "opt_out", "OPTOUT", False),
    ("S" + ZWSP + "TOP", "opt_out", "STOP", False),
    ("\ufeffstop\ufe0f", "opt_out", "STOP", False),
    ("  stop\n", "opt_out", "STOP", False),
    ("Stop. Thank you", "opt_out", "STOP", False),
    ("Don’t text me", "opt_out", "DON T TEXT ME", False),
    ("remove me", "opt_out", "REMOVE ME", False),
    # opt-in only as a lone word: consent is never read into a sentence
    ("START", "opt_in", "START", False),
    ("Unstop!", "opt_in", "UNSTOP", False),
    ("yes", "opt_in", "YES", False),
    ("yes, but call me first", None, "", False),
    # help
    ("HELP?", "help", "HELP", False),
    ("info", "help", "INFO", False),
    ("help please", "help", "HELP", False),
    ("Help me choose a Rioja", None, "", False),
    # mentions in a sentence: no opt-out, but a person looks
    ("I can't stop drinking your Barolo", None, "", True),
    ("Please cancel my order of the Chianti", None, "", True),
    ("can I opt out of the newsletter but keep texts?", None, "", True),
    ("stop it", None, "", True),
    # ordinary messages
    ("Can I get 3 cases of the Rioja?", None, "", False),
    ("", None, "", False),
    ("🍷🍷", None, "", False),
    ("thanks", None, "", False),
]


@pytest.mark.parametrize(("text", "kind", "keyword", "review"), CASES)
def test_match(text: str, kind: str | None, keyword: str, review: bool) -> None:
    found = match(text)
    assert (found.kind, found.keyword, found.review) == (kind, keyword, review)


@pytest.mark.parametrize(
    ("opt_out_type", "kind"), [("STOP", "opt_out"), ("start", "opt_in"), ("HELP", "help")]
)
def test_twilio_opt_out_type_wins(opt_out_type: str, kind: str) -> None:
    assert match("arrêt", opt_out_type).kind == kind


def test_normalised_words() -> None:
    assert words("  ＳＴＯＰ,\u200b please!! 🛑 ") == ["stop", "please"]
    assert normalise("Hours?") == "HOURS"
    assert normalise("what hours?") == ""
