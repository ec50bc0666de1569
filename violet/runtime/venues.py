"""Venues: where order intents would go. Observe-only is the default and the guard.

`ObserveOnlyVenue` never sends anything: it records each attempt. It also
wraps any other venue when no `VenueKeys` are configured (DARK mode), so
whatever the inner venue would do, no order leaves. `ScriptedVenue` plays a script of
acks, fills, rejects and latencies, for tests of the execution driver.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Protocol

from violet.errors import InputError


@dataclass(frozen=True)
class OrderIntent:
    """What the decision wants done: open a position (a long BUY, a short SELL) or close one (the reverse,
    reduce-only)."""

    intent_id: str
    scan_id: int
    ts_us: int
    side: str  # BUY or SELL
    asset: int
    symbol: str
    leverage: float
    notional: float
    reduce_only: bool = False  # closes a position


@dataclass(frozen=True, order=True)
class VenueEvent:
    """A venue's answer to an intent: ACK, FILL or REJECT, at a time."""

    at_us: int
    intent_id: str
    kind: str
    detail: str = ""


class Venue(Protocol):
    sends: bool  # False for a venue that never sends (observe-only)

    def submit(self, intent: OrderIntent, now_us: int) -> None: ...

    def next_event_us(self) -> int | None: ...

    def poll(self, now_us: int) -> list[VenueEvent]: ...


@dataclass
class ObserveOnlyVenue:
    """Records every attempt and sends nothing; `inner` is the venue it keeps orders away from."""

    inner: Venue | None = None
    attempts: list[OrderIntent] = field(default_factory=list)
    sends: bool = False

    def submit(self, intent: OrderIntent, now_us: int) -> None:
        self.attempts.append(intent)

    def next_event_us(self) -> int | None:
        return None

    def poll(self, now_us: int) -> list[VenueEvent]:
        return []


@dataclass(frozen=True)
class ScriptStep:
    """How the venue answers one order: ack after ack_us (None: never), then FILL or REJECT after done_us."""

    ack_us: int | None = 5_000
    outcome: str = "FILL"  # FILL, REJECT, or NONE (acked, never done)
    done_us: int = 10_000
    detail: str = ""


class ScriptedVenue:
    """Answers the n-th order with the n-th step of the script (the last step repeats)."""

    sends = True

    def __init__(self, script: list[ScriptStep]) -> None:
        self.script = script or [ScriptStep()]
        self.submitted: list[OrderIntent] = []
        self._events: list[VenueEvent] = []
        self._seq = itertools.count()

    def submit(self, intent: OrderIntent, now_us: int) -> None:
        step = self.script[min(len(self.submitted), len(self.script) - 1)]
        self.submitted.append(intent)
        if step.ack_us is None:
            return
        heapq.heappush(self._events, VenueEvent(now_us + step.ack_us, intent.intent_id, "ACK"))
        if step.outcome != "NONE":
            heapq.heappush(self._events, VenueEvent(now_us + step.ack_us + step.done_us, intent.intent_id,
                                                    step.outcome, step.detail))

    def next_event_us(self) -> int | None:
        return self._events[0].at_us if self._events else None

    def poll(self, now_us: int) -> list[VenueEvent]:
        due = []
        while self._events and self._events[0].at_us <= now_us:
            due.append(heapq.heappop(self._events))
        return due


@dataclass(frozen=True)
class VenueKeys:
    """The credentials that let orders leave: the one setting (`ReplaySettings.keys`) the DARK guard reads.

    Both parts must be non-empty; the secret never appears in a repr."""

    api_key: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.api_key, str) and self.api_key and isinstance(self.secret, str) and self.secret):
            raise InputError("venue keys need a non-empty api key and secret", where="keys",
                             fix="give both, or no keys (DARK: observe-only)")


def guarded(venue: Venue, keys: VenueKeys | None) -> Venue:
    """The DARK guard: without keys, every venue is observe-only, whatever it is (applied where the
    reactor is composed, `session.build_reactor`, so no other path reaches a sending venue)."""
    return venue if keys is not None and venue.sends else ObserveOnlyVenue(inner=venue)
