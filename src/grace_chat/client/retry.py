"""How often and how patiently the client tries again: ``RetryPolicy``.

Guarantees: ``delay(n)`` grows exponentially from ``initial_delay`` by ``multiplier`` up to
``max_delay``, spread by ``jitter`` (a fraction: 0.5 gives 50 %-150 % of the nominal delay) so
that many clients cut off together do not come back together; ``gives_up(n)`` is true once
``n`` consecutive attempts failed and ``max_attempts`` is set. ``max_attempts=None`` retries for
ever: a caller's explicit choice, never the default.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    #: Consecutive failed attempts after which the client gives up (``RetriesExhausted``);
    #: a successful connection starts the count again. ``None``: never give up.
    max_attempts: int | None = 10
    initial_delay: float = 0.25
    max_delay: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5
    #: Seconds to wait for a connection to open and greet.
    connect_timeout: float = 10.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None: never give up)")
        if self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise ValueError("delays must satisfy 0 <= initial_delay <= max_delay")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (1 for the first)."""
        nominal = min(self.max_delay, self.initial_delay * self.multiplier ** max(0, failures - 1))
        spread = 1 + self.jitter * (2 * self.rng.random() - 1)
        return nominal * spread

    def gives_up(self, failures: int) -> bool:
        return self.max_attempts is not None and failures >= self.max_attempts
