"""One sliding-window rate limiter per provider (or sender), shared by every worker.

With Redis the window is a sorted set per key, updated by a Lua script so that checking
and taking a slot is one atomic step across all processes; it is asked just before each
provider call, never at enqueue time, so bursts from many workers cannot get through.
Without Redis (inline mode: one process) an in-memory window does the same.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis

_ACQUIRE = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local token = ARGV[5]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
if used + n <= limit then
  for i = 1, n do redis.call('ZADD', key, now, token .. ':' .. i) end
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
  return '0'
end
local need = used + n - limit
local entries = redis.call('ZRANGE', key, need - 1, need - 1, 'WITHSCORES')
if entries[2] == nil then return tostring(window) end
return tostring(tonumber(entries[2]) + window - now)
"""


class SlidingWindowLimiter:
    """``acquire(key, limit, window, n)`` -> 0 when n slots were taken, else seconds to wait."""

    def __init__(
        self, redis_client: Redis | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = redis_client
        self.clock = clock
        self._script = redis_client.register_script(_ACQUIRE) if redis_client else None
        self._local: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def acquire(self, key: str, limit: int, window: float, n: int = 1) -> float:
        if n > limit:
            raise ValueError(f"asked for {n} slots but the window holds {limit}")
        now = self.clock()
        if self._script is not None:
            wait = self._script(
                keys=[f"decant:ratelimit:{key}"],
                args=[now, window, limit, n, uuid.uuid4().hex],
            )
            return max(0.0, float(wait))
        with self._lock:
            stamps = self._local[key]
            while stamps and stamps[0] <= now - window:
                stamps.popleft()
            if len(stamps) + n <= limit:
                stamps.extend([now] * n)
                return 0.0
            need = len(stamps) + n - limit
            return max(0.0, stamps[need - 1] + window - now)

    def wait(
        self,
        key: str,
        limit: int,
        window: float,
        n: int = 1,
        *,
        max_wait: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> float:
        """Block until n slots are free (at most ``max_wait`` seconds); returns time waited."""
        waited = 0.0
        while True:
            delay = self.acquire(key, limit, window, n)
            if delay <= 0:
                return waited
            if waited + delay > max_wait:
                raise TimeoutError(f"rate limit {key}: no slot within {max_wait}s")
            sleep(delay)
            waited += delay
