"""UTM parameters on the web links of a text, added when the text is rendered.

Texts have no tracked links (no redirect, no shortening: the reader sees and taps the URL
as written), so the only way a web order can say which text sold is the URL itself: each
http(s) link leaving Decant gets ``utm_source``, ``utm_medium=sms`` and ``utm_campaign``
(the campaign's public id, which attribution matches first), by the same rules and
settings as an email's links (:mod:`app.attribution.utm`). The body is tagged before its
segments are counted, so the review page, the send-time length check and the stored row
all count the text as it goes out.
"""

from __future__ import annotations

import re

from app.attribution import utm
from app.messaging.models import Campaign

#: a web address in running text: up to whitespace or a character no URL holds as written
_URL = re.compile(r"""https?://[^\s<>"'`{}|\\^]+""", re.IGNORECASE)
#: punctuation that ends a sentence rather than the URL ("see https://x.example/a.")
_TRAILING = ".,;:!?)]"
#: a campaign public id as long as a real one: the length a body is checked at before
#: its campaign exists
PLACEHOLDER_ID = f"{Campaign.id_prefix}_{'x' * 16}"


def _split(match: str) -> tuple[str, str]:
    """The URL and the punctuation after it; a closing parenthesis is the URL's own
    when it opens one (``https://w.example/Barolo_(wine)``)."""
    url = match
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url, match[len(url) :]


def tag_text(body: str, reference: str) -> str:
    """``body`` with the UTM parameters of ``reference`` (a campaign's or flow's public
    id) on each web link leaving Decant; the rest of the text unchanged."""
    if not utm.campaign_parameters(reference, "sms"):
        return body

    def tagged(match: re.Match[str]) -> str:
        url, after = _split(match.group(0))
        return utm.tag_campaign_links([url], reference, "sms")[0] + after

    return _URL.sub(tagged, body)
