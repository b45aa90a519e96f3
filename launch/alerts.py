"""Alerts that reach a person: what happened, sent by email and/or webhook, never in the way.

The launcher raises alerts (:class:`Alert`) from what it sees — its supervisor, the broker
before and after the session, and the engine's journal (:mod:`launch.alert_watch`) — and
hands them to an :class:`AlertDispatcher`. Delivery happens on one background thread per
channel (:mod:`launch.alert_channels`), each fed by a bounded queue:

- :meth:`AlertDispatcher.send` never blocks: a full queue drops the alert (counted, logged);
- a slow or failing channel delays only itself (each delivery has a timeout, a failed one
  is tried again once, then dropped with a warning);
- alerts waiting together are sent together: fills become one alert, an email one message.

The engine knows nothing of this: it journals, the launcher reads the journal. So neither a
decision nor an order ever waits on SMTP or HTTP.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from launch.alert_config import AlertConfig, AlertKind

log = logging.getLogger(__name__)

QUEUE_SIZE = 200
"""Alerts a channel may have waiting; more are dropped."""
BATCH = 50
"""Alerts one delivery takes at most."""
RETRY_DELAY_S = 2.0
CLOSE_TIMEOUT_S = 20.0
"""How long the launcher waits at exit for alerts still queued."""


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    subject: str
    text: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    mode: str = ""
    strategy: str = ""
    session_date: str = ""
    at: str = ""
    """When it happened (the broker's time when known), ISO 8601 with the New York offset."""

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "subject": self.subject, "text": self.text, "detail": dict(self.detail),
                "mode": self.mode, "strategy": self.strategy, "session_date": self.session_date,
                "at": self.at}  # fmt: skip


def coalesce(alerts: Sequence[Alert]) -> list[Alert]:
    """``alerts`` with each run of consecutive fill alerts merged into one."""
    out: list[Alert] = []
    for a in alerts:
        prev = out[-1] if out else None
        if prev is not None and a.kind is AlertKind.FILL and prev.kind is AlertKind.FILL:
            fills = [*prev.detail.get("fills", ()), *a.detail.get("fills", ())]
            out[-1] = replace(prev, subject=f"{len(fills)} fills", text=f"{prev.text}\n{a.text}",
                              detail={**prev.detail, "fills": fills}, at=a.at or prev.at)  # fmt: skip
        else:
            out.append(a)
    return out


class Channel(Protocol):
    """A way to reach a person (:mod:`launch.alert_channels`)."""

    name: str

    def deliver(self, alerts: Sequence[Alert]) -> None:
        """Send ``alerts`` (one or more) or raise; must give up after its timeout."""


class _Worker:
    """One channel's queue and thread."""

    def __init__(self, channel: Channel, *, queue_size: int, retry_delay_s: float,
                 sleep: Callable[[float], None]) -> None:  # fmt: skip
        self.channel = channel
        self.queue: queue.Queue[Alert] = queue.Queue(maxsize=queue_size)
        self.retry_delay_s = retry_delay_s
        self.sleep = sleep
        self.stopping = threading.Event()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._pending = 0
        self._done = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=f"alerts-{channel.name}", daemon=True)
        self.thread.start()

    def put(self, alert: Alert) -> None:
        try:
            with self._done:
                self.queue.put_nowait(alert)
                self._pending += 1
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 50 == 0:
                log.warning("alerts: the %s channel is behind (%d waiting): %d alert(s) dropped so far",
                            self.channel.name, self.queue.qsize(), self.dropped)  # fmt: skip

    def _take(self) -> list[Alert]:
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < BATCH:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def wait_idle(self, timeout: float) -> bool:
        """Until every alert put was delivered or given up (False: ``timeout`` passed first)."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                if self.stopping.is_set():
                    return
                continue
            try:
                self._deliver(batch)
            finally:
                with self._done:
                    self._pending -= len(batch)
                    self._done.notify_all()

    def _deliver(self, batch: list[Alert]) -> None:
        alerts = coalesce(batch)
        for attempt in (1, 2):
            try:
                self.channel.deliver(alerts)
                self.sent += len(alerts)
                return
            except Exception as e:  # a channel's trouble must never end the launcher
                if attempt == 1 and not self.stopping.is_set():
                    log.warning("alerts: %s delivery failed (%s); trying again in %.0f s", self.channel.name,
                                e, self.retry_delay_s)  # fmt: skip
                    self.sleep(self.retry_delay_s)
                    continue
                self.failed += len(alerts)
                log.warning("alerts: %s delivery failed (%s); %d alert(s) not sent: %s", self.channel.name, e,
                            len(alerts), "; ".join(a.subject for a in alerts))  # fmt: skip


class AlertDispatcher:
    """Alerts to every configured channel, each on its own thread (module docstring)."""

    def __init__(self, channels: Iterable[Channel], *, kinds: Iterable[AlertKind] = tuple(AlertKind),
                 queue_size: int = QUEUE_SIZE, retry_delay_s: float = RETRY_DELAY_S,
                 sleep: Callable[[float], None] = time.sleep, context: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.kinds = frozenset(kinds)
        self.context = dict(context or {})
        self.workers = [_Worker(c, queue_size=queue_size, retry_delay_s=retry_delay_s, sleep=sleep) for c in channels]

    @property
    def enabled(self) -> bool:
        return bool(self.workers)

    def send(self, alert: Alert) -> None:
        """Queue ``alert`` for every channel (never blocks); the kinds not asked for are skipped."""
        if alert.kind not in self.kinds or not self.workers:
            return
        alert = replace(alert, **{k: v for k, v in self.context.items() if not getattr(alert, k)})
        log.info("alert %s: %s", alert.kind, alert.subject)
        for w in self.workers:
            w.put(alert)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued alert was delivered or given up (at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        return all(w.wait_idle(max(0.0, deadline - time.monotonic())) for w in self.workers)

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Deliver what is queued (for ``timeout`` seconds at most), then stop the threads."""
        deadline = time.monotonic() + timeout
        for w in self.workers:
            w.stopping.set()
        for w in self.workers:
            w.thread.join(max(0.0, deadline - time.monotonic()))
            left = w.queue.qsize()
            if w.thread.is_alive() or left:
                log.warning("alerts: %s still busy at exit; %d alert(s) left unsent", w.channel.name, left)

    def stats(self) -> dict[str, dict[str, int]]:
        return {w.channel.name: {"sent": w.sent, "failed": w.failed, "dropped": w.dropped} for w in self.workers}


def make_dispatcher(cfg: AlertConfig, context: Mapping[str, str] | None = None) -> AlertDispatcher:
    """A dispatcher with the channels ``cfg`` configures (none: it sends nothing)."""
    from launch.alert_channels import SmtpChannel, WebhookChannel

    channels: list[Channel] = []
    if cfg.email:
        channels.append(SmtpChannel(cfg))
    if cfg.webhook:
        channels.append(WebhookChannel(cfg))
    return AlertDispatcher(channels, kinds=cfg.events, context=context)


__all__ = ["Alert", "AlertDispatcher", "Channel", "coalesce", "make_dispatcher"]
