"""Human or machine, on recorded real-looking traffic: Apple's proxy, a SafeLinks burst,
scanners, and people (module rules in app/messaging/machine_signals.py)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from app.messaging.machine_signals import (
    Rules,
    Verdict,
    _common,
    classify_click,
    classify_open,
)

SENT = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"

OPENS = [
    # (what it is, request, expected reason or None for a person)
    (
        "Apple MPP proxy at delivery",
        {"user_agent": "Mozilla/5.0", "ip": "17.58.63.12"},
        "apple_mpp",
    ),
    (
        "Apple proxy, IPv4 from Apple's network",
        {"user_agent": IPHONE_MAIL, "ip": "17.1.2.3"},
        "apple_mpp",
    ),
    ("bare agent from elsewhere", {"user_agent": "Mozilla/5.0", "ip": "203.0.113.9"}, "apple_mpp"),
    (
        "SendGrid flags it",
        {"user_agent": None, "ip": None, "provider_machine_flag": True},
        "provider_flag",
    ),
    ("Mimecast fetching images", {"user_agent": CHROME, "ip": "205.139.110.61"}, "scanner_network"),
    ("Proofpoint", {"user_agent": CHROME, "ip": "148.163.130.4"}, "scanner_network"),
    (
        "a link checker",
        {"user_agent": "python-requests/2.32.3", "ip": "198.51.100.7"},
        "scanner_agent",
    ),
    ("HEAD", {"user_agent": CHROME, "ip": "198.51.100.7", "method": "HEAD"}, "head_request"),
    (
        "Gmail's image proxy when the person opens",
        {"user_agent": GMAIL_PROXY, "ip": "66.249.84.1"},
        None,
    ),
    ("Outlook desktop", {"user_agent": OUTLOOK, "ip": "198.51.100.20"}, None),
    ("iPhone Mail with MPP off", {"user_agent": IPHONE_MAIL, "ip": "198.51.100.21"}, None),
]


@pytest.mark.parametrize(("what", "request_", "reason"), OPENS, ids=[o[0] for o in OPENS])
def test_opens(what, request_, reason):
    verdict = classify_open(**request_)
    assert (verdict.human, verdict.reason) == (reason is None, reason), what


def test_a_safelinks_burst_is_machine_but_a_person_clicking_later_is_not():
    links = [f"https://wine.example/{n}" for n in range(4)]
    delivered = SENT + timedelta(seconds=30)
    earlier: list[tuple[str, datetime]] = []
    verdicts = []
    for n, url in enumerate(links):  # every link within 0.9 s, a minute after sending
        at = delivered + timedelta(milliseconds=300 * n)
        verdicts.append(
            classify_click(
                url=url,
                at=at,
                sent_at=SENT,
                earlier_clicks=earlier,
                user_agent=CHROME,
                ip="52.0.0.1",
            )
        )
        earlier.append((url, at))
    assert [v.reason for v in verdicts] == [None, None, "burst", "burst"]
    later = SENT + timedelta(hours=3)
    person = classify_click(
        url=links[1],
        at=later,
        sent_at=SENT,
        earlier_clicks=earlier,
        user_agent=CHROME,
        ip="198.51.100.3",
    )
    assert person.human and person.label == "human"


def test_the_same_link_clicked_twice_quickly_is_a_person_double_clicking():
    at = SENT + timedelta(hours=1)
    earlier = [("https://wine.example/a", at - timedelta(milliseconds=200))] * 3
    verdict = classify_click(
        url="https://wine.example/a", at=at, sent_at=SENT, earlier_clicks=earlier
    )
    assert verdict.human


@pytest.mark.parametrize(
    ("seconds", "human"), [(0.5, False), (9.9, False), (10.0, True), (600, True)]
)
def test_a_click_within_seconds_of_sending_is_a_scanner(seconds, human):
    at = SENT + timedelta(seconds=seconds)
    verdict = classify_click(url="https://wine.example/", at=at, sent_at=SENT, user_agent=CHROME)
    assert verdict.human is human and verdict.reason == (None if human else "too_soon")


def test_scanner_networks_and_agents_on_clicks():
    at = SENT + timedelta(hours=1)
    safelinks = classify_click(
        url="https://w.example/", at=at, sent_at=SENT, ip="40.93.1.2", user_agent=CHROME
    )
    assert safelinks.reason == "scanner_network"
    head = classify_click(url="https://w.example/", at=at, sent_at=SENT, method="HEAD")
    assert head.reason == "head_request"
    bot = classify_click(
        url="https://w.example/", at=at, sent_at=SENT, user_agent="Barracuda Sentinel (EE)"
    )
    assert bot.reason == "scanner_agent"


def test_thresholds_and_networks_are_settings():
    rules = Rules.from_config(
        {
            "MACHINE_CLICK_MIN_SECONDS": "60",
            "MACHINE_BURST_LINKS": "2",
            "MACHINE_SCANNER_NETWORKS": "198.51.100.0/24, 2001:db8::/32",
        }
    )
    at = SENT + timedelta(seconds=30)
    assert classify_click(url="u", at=at, sent_at=SENT, rules=rules).reason == "too_soon"
    later = SENT + timedelta(hours=1)
    two = classify_click(
        url="b", at=later, sent_at=SENT, earlier_clicks=[("a", later)], rules=rules
    )
    assert two.reason == "burst"
    assert (
        classify_open(ip="198.51.100.9", user_agent=CHROME, rules=rules).reason == "scanner_network"
    )
    assert (
        classify_open(ip="2001:db8::1", user_agent=CHROME, rules=rules).reason == "scanner_network"
    )
    assert classify_open(ip="not an ip", user_agent=CHROME).human


def test_the_shared_rules_are_worked_out_once_per_agent_and_network():
    """A provider batch's thousand clicks come from a few agents and networks: the
    address and the scanner patterns are checked once for each, with the same verdicts
    for any rules (a changed setting is another cache entry)."""
    at = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    agent = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120 Safari/537.36"
    _common.cache_clear()
    verdicts = {
        classify_click(
            url=f"https://shop.example/{n}",
            at=at,
            sent_at=None,
            user_agent=agent,
            ip="40.92.1.1",
            rules=Rules(),
        )  # fmt: skip
        for n in range(1000)
    }
    assert verdicts == {Verdict(False, "scanner_network")}
    assert _common.cache_info().misses == 1 and _common.cache_info().hits == 999
    extra = Rules(extra_networks=(ipaddress.ip_network("198.51.100.0/24"),))
    assert classify_click(url="u", at=at, sent_at=None, ip="198.51.100.7", rules=extra).reason == (
        "scanner_network"
    )
    assert classify_click(url="u", at=at, sent_at=None, ip="198.51.100.7", rules=Rules()).human
