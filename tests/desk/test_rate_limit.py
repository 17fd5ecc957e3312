"""The buyers' rate limit: a burst goes through, a flood is held to the sustained rate."""

from __future__ import annotations

import pytest

from kefu.desk.rate_limit import DEFAULT_BURST, DEFAULT_RATE, RateLimiter


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_the_defaults_are_five_a_second_with_a_burst_of_twenty():
    limiter = RateLimiter()

    assert (limiter.rate, limiter.burst) == (DEFAULT_RATE, DEFAULT_BURST) == (5.0, 20)


def test_a_burst_goes_through_and_the_next_message_is_refused(clock):
    limiter = RateLimiter(rate=5, burst=20, clock=clock)

    allowed = [limiter.allow("buyer-1") for _ in range(21)]

    assert allowed == [True] * 20 + [False]


def test_tokens_come_back_at_the_sustained_rate(clock):
    limiter = RateLimiter(rate=5, burst=20, clock=clock)
    for _ in range(20):
        limiter.allow("buyer-1")

    clock.advance(0.19)  # not yet one token (0.95)
    refused = limiter.allow("buyer-1")
    clock.advance(0.01)  # one token now
    first = limiter.allow("buyer-1")
    second = limiter.allow("buyer-1")

    assert (refused, first, second) == (False, True, False)


def test_a_flood_gets_the_sustained_rate_over_time(clock):
    limiter = RateLimiter(rate=5, burst=20, clock=clock)

    # 100 attempts a second for 10 seconds.
    passed = 0
    for _ in range(1000):
        passed += limiter.allow("flooder")
        clock.advance(0.01)

    # The burst, then 5 a second for the 9.99 s that follow (float steps may lose the last one).
    assert 20 + 49 - 1 <= passed <= 20 + 49


def test_a_long_pause_refills_no_more_than_the_burst(clock):
    limiter = RateLimiter(rate=5, burst=3, clock=clock)
    limiter.allow("buyer-1")

    clock.advance(3600)

    assert [limiter.allow("buyer-1") for _ in range(4)] == [True, True, True, False]


def test_keys_have_separate_buckets(clock):
    limiter = RateLimiter(rate=1, burst=2, clock=clock)
    limiter.allow("a")
    limiter.allow("a")

    assert limiter.allow("a") is False
    assert limiter.allow("b") is True


def test_retry_after_says_when_the_next_token_comes(clock):
    limiter = RateLimiter(rate=2, burst=1, clock=clock)
    assert limiter.retry_after("buyer-1") == 0.0
    limiter.allow("buyer-1")

    assert limiter.retry_after("buyer-1") == pytest.approx(0.5)
    clock.advance(0.2)
    assert limiter.retry_after("buyer-1") == pytest.approx(0.3)


def test_a_refused_message_takes_no_token(clock):
    limiter = RateLimiter(rate=1, burst=1, clock=clock)
    limiter.allow("buyer-1")
    for _ in range(5):
        limiter.allow("buyer-1")  # refused: must not push the next token further away

    clock.advance(1.0)

    assert limiter.allow("buyer-1") is True


def test_idle_keys_are_forgotten(clock):
    limiter = RateLimiter(rate=5, burst=20, clock=clock)
    for number in range(1000):
        limiter.allow(f"buyer-{number}")
    assert len(limiter) == 1000

    clock.advance(20 / 5)  # long enough for every bucket to be full again
    limiter.allow("latecomer")

    assert len(limiter) == 1


def test_a_key_still_refilling_is_remembered(clock):
    limiter = RateLimiter(rate=5, burst=20, clock=clock)
    for _ in range(20):
        limiter.allow("busy")

    clock.advance(1.0)  # 5 tokens back of 20: forgetting it now would hand out a fresh burst
    limiter.allow("someone-else")

    assert len(limiter) == 2
    assert sum(limiter.allow("busy") for _ in range(20)) == 5


def test_memory_is_capped_by_dropping_the_least_recently_used(clock):
    limiter = RateLimiter(rate=1, burst=5, clock=clock, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.allow(key)
    limiter.allow("a")  # "a" is now the most recently used

    limiter.allow("d")

    assert len(limiter) == 3
    assert limiter.retry_after("b") == 0.0  # forgotten: as good as new
    assert limiter.allow("a") and limiter.allow("c")


def test_a_clock_stepping_back_removes_no_tokens(clock):
    limiter = RateLimiter(rate=1, burst=2, clock=clock)
    limiter.allow("buyer-1")

    clock.advance(-50)

    assert limiter.allow("buyer-1") is True


@pytest.mark.parametrize(("rate", "burst"), [(0, 5), (-1, 5), (5, 0)])
def test_a_limiter_that_could_never_allow_is_refused(rate, burst):
    with pytest.raises(ValueError, match="rate > 0, burst >= 1"):
        RateLimiter(rate=rate, burst=burst)
