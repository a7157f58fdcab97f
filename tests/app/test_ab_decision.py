"""The A/B decision on simulated outcomes: a clearly better variant wins, equal ones fall
back, small samples fall back, and the probabilities behave (a property test)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.experiments.decision import Outcome, decide, win_probabilities


def _simulate(name: str, rate: float, n: int, rng: random.Random) -> Outcome:
    return Outcome(name, n, sum(rng.random() < rate for _ in range(n)))


def test_a_clearly_better_variant_wins():
    rng = random.Random(7)
    a, b = _simulate("A", 0.02, 2_000, rng), _simulate("B", 0.06, 2_000, rng)
    decision = decide([a, b], "click_rate", fallback="A")
    assert decision.declared and decision.winner == "B"
    assert decision.win_probability["B"] > 0.99 and "B is best" in decision.why


def test_equal_variants_fall_back_to_the_chosen_one():
    rng = random.Random(11)
    outcomes = [_simulate(name, 0.04, 1_500, rng) for name in ("A", "B", "C")]
    decision = decide(outcomes, "open_rate", fallback="C")
    assert not decision.declared and decision.winner == "C"
    assert max(decision.win_probability.values()) < 0.95


def test_too_few_recipients_fall_back_whatever_the_numbers():
    decision = decide([Outcome("A", 50, 1), Outcome("B", 50, 20)], "click_rate", fallback="A")
    assert (decision.declared, decision.winner) == (False, "A")
    assert "too few recipients in A, B" in decision.why


def test_revenue_per_recipient_by_bayesian_bootstrap():
    rng = random.Random(3)
    rich = [rng.choice((0.0,) * 9 + (480.0,)) for _ in range(400)]  # 10% order 480
    poor = [rng.choice((0.0,) * 19 + (240.0,)) for _ in range(400)]  # 5% order 240
    outcomes = [
        Outcome("A", 400, revenues=[v for v in poor if v]),
        Outcome("B", 400, revenues=[v for v in rich if v]),
    ]
    decision = decide(outcomes, "revenue", fallback="A")
    assert decision.declared and decision.winner == "B"


def test_the_same_campaign_shows_the_same_figures():
    outcomes = [Outcome("A", 300, 12), Outcome("B", 300, 15)]
    assert win_probabilities(outcomes, "click_rate", seed=42) == win_probabilities(
        outcomes, "click_rate", seed=42
    )


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="fallback"):
        decide([Outcome("A", 1), Outcome("B", 1)], "click_rate", fallback="Z")
    with pytest.raises(ValueError, match="two variants"):
        decide([Outcome("A", 1)], "click_rate", fallback="A")
    with pytest.raises(ValueError, match="metric"):
        win_probabilities([Outcome("A", 1), Outcome("B", 1)], "vibes")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=2, max_size=4).map(
        lambda pairs: [(max(n, s), min(n, s)) for n, s in pairs]
    )
)
def test_probabilities_sum_to_one_and_favour_more_successes(pairs):
    outcomes = [Outcome(f"V{i}", n, s) for i, (n, s) in enumerate(pairs)]
    probabilities = win_probabilities(outcomes, "click_rate", seed=1, draws=2_000)
    assert abs(sum(probabilities.values()) - 1) < 1e-9
    # a variant with the same recipients and strictly more successes is never less likely
    for a in outcomes:
        for b in outcomes:
            if a.recipients == b.recipients and a.successes > b.successes + 20:
                assert probabilities[a.name] >= probabilities[b.name]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 10_000), st.sampled_from([0.05, 0.1, 0.2, 0.5]))
def test_holdout_is_stable_and_takes_the_share_asked(campaign_id, share):
    from app.experiments.assignment import in_holdout

    held = [in_holdout(campaign_id, customer, share) for customer in range(4_000)]
    again = [in_holdout(campaign_id, customer, share) for customer in range(4_000)]
    assert held == again  # stable
    observed = sum(held) / len(held)
    assert abs(observed - share) < 4 * (share * (1 - share) / len(held)) ** 0.5  # unbiased


def test_variants_split_the_test_share_and_leave_the_rest():
    from app.experiments.assignment import variant_for

    counts = {0: 0, 1: 0, None: 0}
    for customer in range(10_000):
        counts[variant_for(9, customer, [0.1, 0.1])] += 1
    assert abs(counts[0] - 1_000) < 150 and abs(counts[1] - 1_000) < 150
    assert abs(counts[None] - 8_000) < 200


def test_lift_shows_its_uncertainty_for_small_groups():
    from app.experiments.assignment import lift

    small = lift(treated_orders=6, treated=60, holdout_orders=0, holdout=6)
    large = lift(treated_orders=600, treated=6_000, holdout_orders=30, holdout=600)
    assert small.difference == pytest.approx(0.1) and large.difference == pytest.approx(0.05)
    assert small.low < 0 < small.high  # six held back: no conclusion
    assert 0 < large.low < large.difference < large.high  # a real lift
    assert (small.high - small.low) > 3 * (large.high - large.low)
