"""Which variant of a campaign is best, as a probability, and whether to declare it.

Rates (human click rate, human open rate, SMS reply rate): each variant's rate gets a Beta posterior
from a uniform prior, Beta(1 + successes, 1 + failures): with no data every rate is
equally likely, and each recipient's outcome updates it exactly. Revenue per recipient:
a Bayesian bootstrap (Rubin, 1981) of the per-recipient revenues (Dirichlet(1, ..., 1)
weights over the recipients of each variant), which assumes no distribution for order
values, skewed as they are.

The probability that a variant is best is the share of :data:`DRAWS` joint draws (from
a generator seeded by the campaign, so a page shows the same figure every time) in
which it has the highest value. A winner is declared only when every variant reached
``min_sample`` recipients and the best one's probability is at least ``threshold``
(defaults 100 and 0.95); otherwise the fallback variant chosen in advance is sent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

DRAWS = 20_000
#: the metrics that are a rate of recipients (a Beta posterior each)
RATES = ("click_rate", "open_rate", "reply_rate")
MIN_SAMPLE = 100
THRESHOLD = 0.95


@dataclass(frozen=True)
class Outcome:
    """One variant's test results: recipients, successes (clicks or opens), and the
    attributed revenue of each recipient (only for ``revenue``)."""

    name: str
    recipients: int
    successes: int = 0
    revenues: Sequence[float] = ()


@dataclass(frozen=True)
class Decision:
    win_probability: dict[str, float]
    winner: str  # the variant to send to the rest (declared, or the fallback)
    declared: bool  # False: the fallback, because the evidence is not enough
    why: str


def _rate_draw(rng: random.Random, o: Outcome) -> float:
    return rng.betavariate(1 + o.successes, 1 + max(0, o.recipients - o.successes))


def _revenue_draw(rng: random.Random, o: Outcome) -> float:
    values = list(o.revenues) + [0.0] * max(0, o.recipients - len(o.revenues))
    if not values:
        return 0.0
    weights = [rng.expovariate(1.0) for _ in values]  # normalised: Dirichlet(1, ..., 1)
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def win_probabilities(
    outcomes: Sequence[Outcome], metric: str, seed: int = 0, draws: int = DRAWS
) -> dict[str, float]:
    if metric not in RATES and metric != "revenue":
        raise ValueError(f"unknown metric {metric}")
    rng = random.Random(seed)
    draw = _revenue_draw if metric == "revenue" else _rate_draw
    if metric == "revenue":  # each bootstrap costs a pass over the recipients: fewer draws
        draws = min(draws, 2_000)
    wins = dict.fromkeys((o.name for o in outcomes), 0)
    for _ in range(draws):
        values = [(draw(rng, o), rng.random(), o.name) for o in outcomes]  # random tie-break
        wins[max(values)[2]] += 1
    return {name: count / draws for name, count in wins.items()}


def decide(
    outcomes: Sequence[Outcome],
    metric: str,
    fallback: str,
    *,
    min_sample: int = MIN_SAMPLE,
    threshold: float = THRESHOLD,
    seed: int = 0,
) -> Decision:
    if len(outcomes) < 2:
        raise ValueError("an A/B test has two variants or more")
    if fallback not in {o.name for o in outcomes}:
        raise ValueError(f"the fallback {fallback} is not a variant")
    probabilities = win_probabilities(outcomes, metric, seed)
    best = max(probabilities, key=lambda name: probabilities[name])
    short = [o.name for o in outcomes if o.recipients < min_sample]
    if short:
        why = f"too few recipients in {', '.join(short)} (at least {min_sample} each)"
        return Decision(probabilities, fallback, False, why)
    if probabilities[best] < threshold:
        chance = probabilities[best]
        why = f"no variant is best with {threshold:.0%} probability ({best}: {chance:.0%})"
        return Decision(probabilities, fallback, False, why)
    return Decision(
        probabilities, best, True, f"{best} is best with {probabilities[best]:.1%} probability"
    )
