"""Which MMS media URLs a page may link to.

An inbound message's media URLs come from whoever sent the webhook; a page links only
those a browser would fetch over the web (http or https), never ``javascript:`` or
``data:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

_IGNORED_BY_BROWSERS = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(map(chr, range(33)))


def web_media(urls: Iterable[object] | None) -> list[str]:
    """The http(s) URLs of ``urls``, as a browser would read them; the rest left out."""
    shown = []
    for url in urls or ():
        if not isinstance(url, str):
            continue
        clean = _IGNORED_BY_BROWSERS.sub("", url).strip(_C0_AND_SPACE)
        try:
            parts = urlsplit(clean)
        except ValueError:
            continue
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            shown.append(clean)
    return shown
