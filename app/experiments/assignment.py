"""Stable, unbiased assignment of a campaign's audience to a holdout group or a variant.

A customer's place is a hash of (campaign, customer) mapped to [0, 1): the same customer
lands in the same group however often the audience is read (a resumed campaign, a
re-rendered report), and a SHA-256 is uniform enough that shares come out as asked
(tested). The holdout's order rate against the treated group's is the campaign's lift,
reported with a 95% credible interval so a small group shows its uncertainty.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass


def position(campaign_id: int, customer_id: int, salt: str = "") -> float:
    digest = hashlib.sha256(f"{salt}:{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_holdout(campaign_id: int, customer_id: int, share: float) -> bool:
    """Held back from the campaign (``share`` of the audience, 0 to 0.5)."""
    return position(campaign_id, customer_id, "holdout") < share


def variant_for(campaign_id: int, customer_id: int, shares: Sequence[float]) -> int | None:
    """The index of the variant a customer gets in an A/B test (``shares`` of the audience
    each, summing to the test share), or None: the rest, who later get the winner."""
    at = position(campaign_id, customer_id, "variant")
    edge = 0.0
    for index, share in enumerate(shares):
        edge += share
        if at < edge:
            return index
    return None


@dataclass(frozen=True)
class Lift:
    treated_rate: float
    holdout_rate: float
    difference: float  # treated minus holdout, in order rate
    low: float  # 95% credible interval of the difference
    high: float


def lift(
    treated_orders: int, treated: int, holdout_orders: int, holdout: int, seed: int = 0
) -> Lift:
    """Order-rate lift of the treated group over the holdout, with Beta(1, 1) priors."""
    rng = random.Random(seed)
    draws = sorted(
        rng.betavariate(1 + treated_orders, 1 + treated - treated_orders)
        - rng.betavariate(1 + holdout_orders, 1 + holdout - holdout_orders)
        for _ in range(4_000)
    )
    treated_rate = treated_orders / treated if treated else 0.0
    holdout_rate = holdout_orders / holdout if holdout else 0.0
    return Lift(
        treated_rate,
        holdout_rate,
        treated_rate - holdout_rate,
        draws[int(0.025 * len(draws))],
        draws[int(0.975 * len(draws)) - 1],
    )
