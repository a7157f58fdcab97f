"""The sliding-window limiter, in memory and shared through a real Redis."""

from __future__ import annotations

import threading

import pytest

from app.messaging.ratelimit import SlidingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def check_window(limiter: SlidingWindowLimiter, clock: Clock) -> None:
    assert limiter.acquire("p", 3, 1.0) == 0
    clock.now += 0.2
    assert limiter.acquire("p", 3, 1.0, n=2) == 0
    clock.now += 0.2
    wait = limiter.acquire("p", 3, 1.0)
    assert wait == pytest.approx(0.6, abs=0.01)  # the first slot frees 1 s after it was taken
    clock.now += 0.61
    assert limiter.acquire("p", 3, 1.0) == 0
    with pytest.raises(ValueError):
        limiter.acquire("p", 3, 1.0, n=4)


def test_in_memory_window():
    clock = Clock()
    check_window(SlidingWindowLimiter(clock=clock), clock)


@pytest.mark.redis
def test_redis_window_is_shared_between_limiters(redis_url):
    import redis

    clock = Clock()
    client = redis.Redis.from_url(redis_url)
    check_window(SlidingWindowLimiter(client, clock=clock), clock)
    # two "workers" share one limit: 20 threads asking for 1 slot each get exactly 5
    other_clock = Clock()
    limiters = [
        SlidingWindowLimiter(redis.Redis.from_url(redis_url), clock=other_clock) for _ in range(4)
    ]
    granted = []
    lock = threading.Lock()

    def take(i: int) -> None:
        if limiters[i % 4].acquire("shared", 5, 10.0) == 0:
            with lock:
                granted.append(i)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 5


def test_wait_sleeps_until_a_slot_frees():
    clock = Clock()
    limiter = SlidingWindowLimiter(clock=clock)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    for _ in range(4):
        limiter.wait("sms", 2, 1.0, sleep=sleep)
    assert slept == [1.0]  # the 3rd waits a whole window, the 4th fits beside it
