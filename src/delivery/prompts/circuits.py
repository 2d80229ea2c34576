"""One circuit breaker per provider, per process (purgatory): stop calling a provider that keeps failing.

A generation that fails with `ProviderUnavailable` (5xx, network, timeouts,
bad credentials; after the pipeline's own retries) counts against its
provider; refusals and rate limits do not, since the provider answered. After
`PROMPTPIX_BREAKER_THRESHOLD` consecutive failures the circuit opens: calls
fail at once (and a model with a family falls back to the next one,
delivery.prompts.ondemand) until `PROMPTPIX_BREAKER_COOLDOWN` seconds have
passed; then calls go through again (half-open: purgatory does not hold back
the ones that arrive while the first is in flight), and the first outcome
closes or reopens the circuit.

purgatory over aiobreaker: it is async-native, maintained, has per-exception
exclusion with a predicate, and exposes its state; state is in memory, so each
process has its own breakers (what `/metrics` and `/readyz` show per process).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from delivery.ops.metrics import Metrics
from generation import ProviderUnavailable

__all__ = ["STATE_VALUES", "Circuits"]

T = TypeVar("T")
STATE_VALUES = {"closed": 0, "half-opened": 1, "opened": 2}
"""The `promptpix_provider_circuit_state` gauge's values."""


def _not_an_outage(exc: BaseException) -> bool:
    """purgatory's exclusion predicate: True means the exception does not count as a failure."""
    return not isinstance(exc, ProviderUnavailable)


class Circuits:
    def __init__(self, *, threshold: int, cooldown: float, metrics: Metrics) -> None:
        self.cooldown = cooldown
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=cooldown, exclude=[(BaseException, _not_an_outage)]
        )
        self._metrics = metrics
        self._states: dict[str, tuple[str, float | None]] = {}

    async def call(self, provider: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` through `provider`'s breaker; an open circuit is a `ProviderUnavailable` at once."""
        breaker = await self._factory.get_breaker(provider)
        try:
            async with breaker:
                return await work()
        except OpenedState:
            raise ProviderUnavailable(
                f"the {provider} provider is failing; its circuit is open", stage="synthesize", detail="circuit open"
            ) from None
        finally:
            context = breaker.context
            self._states[provider] = (context.state, context.opened_at)
            self._metrics.provider_circuit.labels(provider).set(STATE_VALUES.get(context.state, 0))

    def state(self, provider: str) -> str:
        """`closed`, `open`, or `half-open` (open, and its cool-down is over: the next call is a probe)."""
        state, opened_at = self._states.get(provider, ("closed", None))
        if state == "opened":
            return "half-open" if opened_at is not None and time.time() > opened_at + self.cooldown else "open"
        return "half-open" if state == "half-opened" else "closed"
