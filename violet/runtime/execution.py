"""The execution driver: order intents to a venue, each with a time-to-live.

An intent sent to a venue must be acknowledged within the TTL (100 ms by
default) or it expires, and the expiry is recorded; an ack that comes later is
recorded as late, not acted on. An observe-only venue gets the intent recorded
as RECORDED_NOT_SENT, with no TTL (nothing left). Every status change is one
`orders` row for the journal.

The driver also keeps the portfolio's open positions (an entry opens one, its
exit closes it; a position is its asset and the way it faces) and gates each
slot: with `max_positions` K, an entry while K positions are open is not sent
but recorded as REFUSED with the reason, and so is the exit of a position
whose entry was refused (nothing is held to close).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from violet.runtime.scheduler import DeadlineScheduler, Timer
from violet.runtime.venues import OrderIntent, Venue, VenueEvent

TTL_US = 100_000


@dataclass
class OrderState:
    intent: OrderIntent
    sent_us: int
    status: str
    timer: Timer | None = None


@dataclass
class ExecutionDriver:
    """Sends intents, watches TTLs, and reports every status as an orders row."""

    venue: Venue
    scheduler: DeadlineScheduler
    record: Callable[[dict[str, Any]], None]
    ttl_us: int = TTL_US
    max_positions: int | None = None  # the most positions open at once (None: no limit, nothing refused)
    orders: dict[str, OrderState] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    open: Counter[tuple[int, str]] = field(default_factory=Counter)  # (asset, BUY for a long / SELL) -> positions

    def submit(self, intent: OrderIntent) -> None:
        now = self.scheduler.clock.now_us()
        refused = self._gate(intent)
        if refused:
            state = OrderState(intent, now, "REFUSED")
            self.orders[intent.intent_id] = state
            self._emit(state, now, refused)
            return
        self.venue.submit(intent, now)
        state = OrderState(intent, now, "SENT" if self.venue.sends else "RECORDED_NOT_SENT")
        self.orders[intent.intent_id] = state
        if self.venue.sends:
            state.timer = self.scheduler.at(now + self.ttl_us, "order_ttl", lambda t, i=intent.intent_id: self._expire(i, t))
        self._emit(state, now, "")

    def _gate(self, intent: OrderIntent) -> str:
        """Why the slot refuses `intent` ("" if it goes), the open positions updated for one that goes."""
        if self.max_positions is None:
            return ""
        faces = intent.side if not intent.reduce_only else ("SELL" if intent.side == "BUY" else "BUY")
        key = (intent.asset, faces)
        if intent.reduce_only:
            if self.open[key] <= 0:
                return "no open position to close: its entry was refused"
            self.open[key] -= 1
            return ""
        held = sum(self.open.values())
        if held >= self.max_positions:
            return f"{held} positions open, the most the record allows (max_positions = {self.max_positions})"
        self.open[key] += 1
        return ""

    def on_event(self, event: VenueEvent) -> None:
        state = self.orders.get(event.intent_id)
        if state is None:
            return
        if state.status == "EXPIRED":
            self._emit_as(state, f"{event.kind}_AFTER_EXPIRY", event.at_us, event.detail)
            return
        if event.kind == "ACK" and state.timer is not None:
            self.scheduler.cancel(state.timer)
        state.status = {"ACK": "ACKED", "FILL": "FILLED", "REJECT": "REJECTED"}[event.kind]
        self._emit(state, event.at_us, event.detail)

    def poll_venue(self) -> None:
        for event in self.venue.poll(self.scheduler.clock.now_us()):
            self.on_event(event)

    def _expire(self, intent_id: str, now_us: int) -> None:
        state = self.orders[intent_id]
        if state.status == "SENT":
            state.status = "EXPIRED"
            self._emit(state, now_us, f"no ack within {self.ttl_us // 1000} ms")

    def _emit(self, state: OrderState, at_us: int, detail: str) -> None:
        self._emit_as(state, state.status, at_us, detail)

    def _emit_as(self, state: OrderState, status: str, at_us: int, detail: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        row = asdict(state.intent)
        row.update(status=status, detail=detail, latency_us=float(at_us - state.sent_us))
        self.record(row)
