"""Was an open or a click made by a person or by a machine? One place, its rules documented.

Opens and clicks arrive as HTTP requests (the open pixel, the click redirect) or as
provider events. Many are not people: Apple Mail Privacy Protection fetches every pixel
through Apple's proxy when the message is delivered; corporate security gateways
(Microsoft Defender SafeLinks, Mimecast, Proofpoint, Barracuda) fetch every link of a
message before the person sees it, often all within a second, sometimes with HEAD
requests; SendGrid flags opens it knows to be machine (``sg_machine_open``). Counting
those as engagement makes a B2B account behind a gateway look like an eager reader.

Each event gets a :class:`Verdict` (``human`` or not, and the ``reason``, stored with the
event). Every rule below is a reason; the first that matches wins:

==========================  ==============================================================
reason                      rule
==========================  ==============================================================
``provider_flag``           the provider says so (SendGrid ``sg_machine_open``)
``head_request``            a HEAD request (people's mail clients and browsers GET)
``apple_mpp``               an open from Apple's network (17.0.0.0/8), or with the bare
                            ``Mozilla/5.0`` user agent Apple's proxy sends
``scanner_network``         from a security gateway's published sending/scanning ranges
                            (:data:`SCANNER_NETWORKS`, extendable by the setting
                            ``MACHINE_SCANNER_NETWORKS``)
``scanner_agent``           a user agent naming a scanner, library or bot
                            (:data:`SCANNER_AGENT`)
``too_soon``                a click within :data:`CLICK_MIN_SECONDS` of the message
                            being sent or delivered (nobody reads and clicks that fast)
``burst``                   this click and :data:`BURST_LINKS` - 1 other distinct links
                            of the same message within :data:`BURST_SECONDS`
==========================  ==============================================================

Thresholds are settings (``MACHINE_CLICK_MIN_SECONDS``, ``MACHINE_BURST_SECONDS``,
``MACHINE_BURST_LINKS``); the defaults follow what gateways are observed to do: they
fetch within seconds of delivery and every link at once. Machine events are kept and
shown apart; stats, scores, attribution and flows read human events only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

CLICK_MIN_SECONDS = 10.0
BURST_SECONDS = 2.0
BURST_LINKS = 3

#: Apple's network: Mail Privacy Protection's proxy fetches come from it.
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)

#: Published ranges of security gateways that fetch links and images before delivery:
#: Microsoft Exchange Online Protection (SafeLinks), Mimecast, Proofpoint, Barracuda.
SCANNER_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "40.92.0.0/15",  # Microsoft EOP
        "40.107.0.0/16",
        "52.100.0.0/14",
        "104.47.0.0/17",
        "2a01:111:f400::/48",
        "205.139.110.0/24",  # Mimecast
        "207.211.30.0/24",
        "207.211.31.0/25",
        "170.10.128.0/24",
        "170.10.129.0/24",
        "148.163.128.0/19",  # Proofpoint
        "67.231.144.0/20",
        "64.235.144.0/20",  # Barracuda
        "209.222.80.0/21",
    )
)

SCANNER_AGENT = re.compile(
    r"bot\b|crawler|spider|scanner|preview|python-requests|curl/|wget/|go-http-client"
    r"|java/|okhttp|libwww|httpclient|barracuda|mimecast|proofpoint|safelinks|symantec"
    r"|trendmicro|forcepoint|headless",
    re.IGNORECASE,
)
#: Apple's proxy sends exactly this, without the platform and engine a real client sends.
APPLE_PROXY_AGENT = "Mozilla/5.0"


@dataclass(frozen=True)
class Verdict:
    human: bool
    reason: str | None = None  # why it is a machine; None for a person

    @property
    def label(self) -> str:
        return "human" if self.human else "machine"


HUMAN = Verdict(True)


@dataclass(frozen=True)
class Rules:
    click_min_seconds: float = CLICK_MIN_SECONDS
    burst_seconds: float = BURST_SECONDS
    burst_links: int = BURST_LINKS
    extra_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_config(cls, config: dict[str, object]) -> Rules:
        networks = str(config.get("MACHINE_SCANNER_NETWORKS") or "")
        return cls(
            click_min_seconds=float(
                str(config.get("MACHINE_CLICK_MIN_SECONDS", CLICK_MIN_SECONDS))
            ),
            burst_seconds=float(str(config.get("MACHINE_BURST_SECONDS", BURST_SECONDS))),
            burst_links=int(str(config.get("MACHINE_BURST_LINKS", BURST_LINKS))),
            extra_networks=tuple(
                ipaddress.ip_network(n.strip(), strict=False)
                for n in networks.split(",")
                if n.strip()
            ),
        )


def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not ip:
        return None
    try:
        return ipaddress.ip_address(ip.strip())
    except ValueError:
        return None


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _in(address: Address | None, networks: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


@lru_cache(maxsize=4096)
def _common(*, method: str, user_agent: str | None, ip: str | None, rules: Rules) -> Verdict | None:
    """The rules every open and click shares. Cached (a pure function of its arguments):
    a provider batch's thousand events come from a few agents and networks, and parsing
    the address and matching the scanner networks and agents was most of its labelling."""
    if method.upper() == "HEAD":
        return Verdict(False, "head_request")
    address = _address(ip)
    if _in(address, SCANNER_NETWORKS + rules.extra_networks):
        return Verdict(False, "scanner_network")
    if user_agent and SCANNER_AGENT.search(user_agent):
        return Verdict(False, "scanner_agent")
    return None


def classify_open(
    *,
    method: str = "GET",
    user_agent: str | None = None,
    ip: str | None = None,
    provider_machine_flag: bool = False,
    rules: Rules = Rules(),
) -> Verdict:
    """An open (pixel fetch or provider open event)."""
    if provider_machine_flag:
        return Verdict(False, "provider_flag")
    apple = _in(_address(ip), APPLE_NETWORKS) or (user_agent or "").strip() == APPLE_PROXY_AGENT
    if apple and method.upper() != "HEAD":
        return Verdict(False, "apple_mpp")
    return _common(method=method, user_agent=user_agent, ip=ip, rules=rules) or HUMAN


def classify_click(
    *,
    url: str,
    at: datetime,
    sent_at: datetime | None,
    earlier_clicks: Sequence[tuple[str, datetime]] = (),
    method: str = "GET",
    user_agent: str | None = None,
    ip: str | None = None,
    rules: Rules = Rules(),
) -> Verdict:
    """A click; ``earlier_clicks`` are the message's clicks before it, (url, at)."""
    common = _common(method=method, user_agent=user_agent, ip=ip, rules=rules)
    if common is not None:
        return common
    if sent_at is not None and (at - sent_at).total_seconds() < rules.click_min_seconds:
        return Verdict(False, "too_soon")
    window = {
        other
        for other, when in earlier_clicks
        if other != url and abs((at - when).total_seconds()) <= rules.burst_seconds
    }
    if len(window) + 1 >= rules.burst_links:
        return Verdict(False, "burst")
    return HUMAN
