"""When to retry a POST, and how long to wait before the next attempt.

Policy (shared by the HTTP and OTLP sinks):

* A dropped connection, a refused connect, a timeout, and HTTP 429, 502, 503 and 504 are
  *transient*: the batch is retried with exponential backoff and full jitter
  (``uniform(0, min(max_delay, initial * 2**(attempt-1)))``, the AWS "full jitter" scheme), or after
  exactly what the server's ``Retry-After`` says (seconds or an HTTP date), capped at ``max_delay``.
* HTTP 500 is ambiguous. OTLP/HTTP says it MUST NOT be retried, so the OTLP sink never retries it.
  A MIST receiver answers 500 for a hiccup as often as for a poison batch, so the HTTP sink retries
  it at most ``retry_500`` times in total (default 3 attempts) and then drops the batch; a batch
  that crashes the receiver therefore cannot block everything behind it.
* Every other status outside 2xx (other 4xx, 3xx: redirects are not followed for POST, 501, 505…)
  is *permanent*: the batch is dropped and counted under ``dropped.http_<status>``.
* A batch is retried for at most ``window`` seconds. After that the endpoint counts as down: the
  sender spools (see ``_spool``) and probes with the capped backoff until it answers again.
"""
from __future__ import annotations

import datetime
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Optional

#: Statuses every sink retries (OTLP/HTTP spec, "Retryable response codes").
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

OK = "ok"
RETRY = "retry"
DROP = "drop"


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff parameters. Times in seconds.

    ``initial``: first backoff ceiling; doubles per attempt up to ``max_delay``.
    ``max_delay``: cap on any single wait, including a server's ``Retry-After``.
    ``window``: how long one batch is retried before the endpoint is declared down.
    ``retry_500``: total attempts for HTTP 500 (1 = never retried).
    """

    initial: float = 0.5
    max_delay: float = 30.0
    window: float = 30.0
    retry_500: int = 3

    def classify(self, status: int, attempts_with_500: int = 0) -> str:
        """``OK``, ``RETRY`` or ``DROP`` for an HTTP status.

        ``attempts_with_500`` is how many times this body has already been answered with 500,
        including this answer.
        """
        if 200 <= status < 300:
            return OK
        if status in RETRYABLE_STATUSES:
            return RETRY
        if status == 500 and attempts_with_500 < self.retry_500:
            return RETRY
        return DROP

    def delay(self, attempt: int, retry_after: Optional[float], rng: random.Random) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` >= 1 failed so far)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_delay))
        exponent = min(max(attempt - 1, 0), 62)  # 2**62 is far past any cap; avoids huge ints
        ceiling = min(self.max_delay, self.initial * (2.0 ** exponent))
        return rng.uniform(0.0, ceiling)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header value, or None if absent or unparseable.

    Accepts delta-seconds (``"120"``) and an HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``);
    a date in the past means "now" (0.0).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        seconds = float(value)  # tolerate "1.5", not strictly RFC 9110 but harmless
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; HTTP dates are always UTC
        when = when.replace(tzinfo=datetime.timezone.utc)
    if now is None:
        now = time.time()
    try:
        target = when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    return max(0.0, target - now)
