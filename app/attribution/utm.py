"""UTM parameters on the links of campaigns, so web orders can say which campaign sold.

A campaign's tracked links send the reader to their destination with ``utm_source``
(``TRACKING_UTM_SOURCE``, default ``decant``), ``utm_medium`` (the channel: ``email``,
``sms``) and ``utm_campaign`` (the campaign's public id, which the attribution engine
matches an order's ``utm_campaign`` against). On by default; ``TRACKING_UTM=false``
turns it off. Only http(s) links get them, and a parameter the author already wrote is
kept as written (its name compared case-insensitively); the rest of the URL is left
byte for byte as it was. Links to Decant's own pages (the preference centre, "keep me
subscribed") are not a web shop's landing pages and stay untagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import current_app, has_request_context, request

DEFAULT_SOURCE = "decant"
#: a campaign's medium on each channel (a channel not named uses its own name)
MEDIUMS = {"email": "email", "sms": "sms"}


def add_utm(url: str, parameters: Mapping[str, str]) -> str:
    """``url`` with the ``parameters`` it lacks appended to its query; any other URL
    (mailto:, tel:, a relative or unparseable one) unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return url
    written = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    missing = {name: value for name, value in parameters.items() if name not in written}
    if not missing:
        return url
    head, hash_sign, fragment = url.partition("#")
    joint = "" if head.endswith(("?", "&")) else "&" if "?" in head else "?"
    return f"{head}{joint}{urlencode(missing)}{hash_sign}{fragment}"


def campaign_parameters(campaign_public_id: str, channel: str) -> dict[str, str]:
    """The UTM parameters of a campaign's links, or none when ``TRACKING_UTM`` is off."""
    config = current_app.config
    if not config.get("TRACKING_UTM", True):
        return {}
    return {
        "utm_source": str(config.get("TRACKING_UTM_SOURCE") or DEFAULT_SOURCE),
        "utm_medium": MEDIUMS.get(channel, channel),
        "utm_campaign": campaign_public_id,
    }


def _own_hosts() -> set[str]:
    """The hosts Decant itself answers on: its public address and the request's."""
    hosts = {urlsplit(str(current_app.config.get("PUBLIC_BASE_URL") or "")).netloc.lower()}
    if has_request_context():
        hosts.add(request.host.lower())
    return hosts - {""}


def tag_campaign_links(urls: Iterable[str], campaign_public_id: str, channel: str) -> list[str]:
    """Each URL as a campaign's tracked link should send the reader on."""
    parameters = campaign_parameters(campaign_public_id, channel)
    if not parameters:
        return list(urls)
    own = _own_hosts()
    return [url if _host(url) in own else add_utm(url, parameters) for url in urls]


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""
