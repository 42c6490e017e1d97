"""Per-asset retry policy."""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RetryPolicy"]


class RetryPolicy(BaseModel):
    """How often and how patiently a failed step is retried.

    Args:
        max_retries: retries after the first attempt (0 disables retrying).
        delay: seconds before the first retry.
        backoff: ``"constant"`` (always ``delay``), ``"linear"`` (``delay * n``) or
            ``"exponential"`` (``delay * 2**(n-1)``).
        max_delay: upper bound on any single wait.
        jitter: add up to this fraction of random extra wait (0.1 = up to 10 %).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    max_retries: int = Field(default=1, ge=0)
    delay: float = Field(default=0.0, ge=0)
    backoff: Literal["constant", "linear", "exponential"] = "constant"
    max_delay: float | None = Field(default=None, ge=0)
    jitter: float = Field(default=0.0, ge=0, le=1)

    def wait_before(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        if self.backoff == "constant":
            wait = self.delay
        elif self.backoff == "linear":
            wait = self.delay * retry_number
        else:
            wait = self.delay * 2 ** (retry_number - 1)
        if self.max_delay is not None:
            wait = min(wait, self.max_delay)
        if self.jitter:
            wait += wait * self.jitter * random.random()  # noqa: S311 - jitter, not crypto
        return wait
