"""The dispatcher: fans events out to the subscriptions that want them, and delivers them at
least once, in order per resource and subscription, with retries and backoff.

A round, in one short transaction: fan out the events not yet fanned out (on Postgres one
dispatcher at a time, under an advisory lock, so deliveries are made in event order), then
claim due deliveries (``FOR UPDATE SKIP LOCKED`` on Postgres), leaving out any whose
subscription has an earlier delivery of the same resource still pending, and push each claimed
one's ``next_attempt_at`` a lease ahead. The requests go out with no transaction open (SQLite's
single writer is never held during a request); a second transaction settles the outcomes. A
dispatcher killed mid-request leaves its claims to fall due again when the lease ends, so
nothing is lost (the receiver may see that event twice: ``webhook-id`` tells it so).
"""

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from customer_api.core.db import Database
from customer_api.core.timestamps import utcnow
from customer_api.webhooks import filters, outbound
from customer_api.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from customer_api.webhooks.outbound import Answer, Networks
from customer_api.webhooks.service import secrets_in_use
from customer_api.webhooks.signing import signature_header
from customer_api.webhooks.wakeup import POLL_SECONDS, Wakeup

logger = logging.getLogger("customer_api.webhooks")

RETRY_DELAYS = (2.0, 10.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0)
"""Seconds before each retry (with up to 10% jitter): 11 attempts over about 23 hours, then the
delivery is given up (status ``failed``)."""
DISABLE_AFTER_FAILURES = 20
DISABLE_AFTER = timedelta(hours=24)
"""A subscription is turned off once it failed this many attempts in a row, without a single
success, for at least this long."""
LEASE = timedelta(seconds=30)
"""How long a claimed delivery is left to its dispatcher: longer than any request can take."""
FAN_OUT_BATCH = 500
CLAIM_BATCH = 200
LINGER = 0.01
"""Seconds a woken dispatcher waits before its round, gathering the events committed meanwhile."""
KEEP_FINISHED = timedelta(days=7)
PRUNE_EVERY = 3600.0
_FAN_OUT_LOCK = 7_402_113_001  # pg_try_advisory_xact_lock key: one fan-out at a time


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    subscription_id: int
    url: str
    secrets: list[str]
    message_id: str
    body: bytes
    attempts: int


@dataclass
class Policy:
    retry_delays: Sequence[float] = RETRY_DELAYS
    disable_after_failures: int = DISABLE_AFTER_FAILURES
    disable_after: timedelta = DISABLE_AFTER
    lease: timedelta = LEASE
    poll_seconds: float = POLL_SECONDS
    allowed: Networks = ()
    user_agent: str = "customer-api-webhooks"
    extra: dict = field(default_factory=dict)

    def retry_delay(self, attempts: int) -> timedelta | None:
        """The wait after the ``attempts``-th failed attempt; None: give up."""
        if attempts > len(self.retry_delays):
            return None
        base = self.retry_delays[attempts - 1]
        return timedelta(seconds=base * (1 + random.random() / 10))


@dataclass
class RoundResult:
    fanned_out: int = 0
    claimed: int = 0
    delivered: int = 0
    failed: int = 0


class Dispatcher:
    def __init__(
        self,
        database: Database,
        policy: Policy | None = None,
        *,
        wakeup: Wakeup | None = None,
    ) -> None:
        self.database = database
        self.policy = policy or Policy()
        self.wakeup = wakeup
        self.clients = outbound.Clients()
        self._last_prune: float | None = None

    async def aclose(self) -> None:
        """Close the connections kept open to receivers."""
        await self.clients.aclose()

    async def run_once(self, *, look_first: bool = True) -> RoundResult:
        """One round; ``look_first=False`` skips the cheap look for work (after a round that
        had some, there is likely more)."""
        if look_first and not await self._has_work():
            return RoundResult()
        await self.clients.trim()
        async with self.database.transaction() as session:
            fanned = await self._fan_out(session)
            claimed = await self._claim(session)
        result = RoundResult(fanned_out=fanned, claimed=len(claimed))
        if not claimed:
            return result
        answers = await asyncio.gather(*(self._attempt(c) for c in claimed))
        async with self.database.transaction() as session:
            await self._settle_all(session, claimed, answers)
        result.delivered = sum(1 for a in answers if a.ok)
        result.failed = len(answers) - result.delivered
        return result

    async def drain(self, rounds: int = 1000) -> RoundResult:
        """Rounds until nothing is claimed (what is due now is sent); the totals."""
        total = RoundResult()
        for _ in range(rounds):
            result = await self.run_once()
            total.fanned_out += result.fanned_out
            total.claimed += result.claimed
            total.delivered += result.delivered
            total.failed += result.failed
            if not result.claimed and not result.fanned_out:
                break
        return total

    async def _has_work(self) -> bool:
        """Reads outside any transaction, one table each: an idle dispatcher never takes
        SQLite's write lock, nor holds a lock beyond a statement's."""
        unfanned = select(WebhookEvent.id).where(WebhookEvent.fanned_out.is_(False))
        due = select(WebhookDelivery.id).where(
            WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= utcnow()
        )
        async with self.database.reading() as session:
            for statement in (unfanned, due):
                if await session.scalar(statement.limit(1)) is not None:
                    return True
        return False

    async def _fan_out(self, session: AsyncSession) -> int:
        """Deliveries for the events not fanned out yet (Core statements: a round may carry
        hundreds)."""
        if session.get_bind().dialect.name == "postgresql":
            locked = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _FAN_OUT_LOCK}
            )
            if not locked:
                return 0
        events = (
            await session.execute(
                select(
                    WebhookEvent.id,
                    WebhookEvent.group_id,
                    WebhookEvent.type,
                    WebhookEvent.channel,
                    WebhookEvent.resource,
                    WebhookEvent.created,
                )
                .where(WebhookEvent.fanned_out.is_(False))
                .order_by(WebhookEvent.id)
                .limit(FAN_OUT_BATCH)
            )
        ).all()
        if not events:
            return 0
        subscriptions = (
            await session.execute(
                select(
                    WebhookSubscription.id,
                    WebhookSubscription.group_id,
                    WebhookSubscription.channels,
                    WebhookSubscription.event_type_filter,
                    WebhookSubscription.created,
                ).where(
                    WebhookSubscription.group_id.in_({event.group_id for event in events}),
                    WebhookSubscription.active.is_(True),
                )
            )
        ).all()
        now = utcnow()
        deliveries, unwanted = [], []
        for event in events:
            wanted = [
                s.id
                for s in subscriptions
                if s.group_id == event.group_id
                and s.created <= event.created
                and filters.wants(s.channels, s.event_type_filter, event.channel, event.type)
            ]
            deliveries.extend(
                {
                    "subscription_id": subscription_id,
                    "event_id": event.id,
                    "resource": event.resource,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created": now,
                }
                for subscription_id in wanted
            )
            if not wanted:
                unwanted.append(event.id)
        if deliveries:
            await session.execute(insert(WebhookDelivery), deliveries)
        await session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_([event.id for event in events]))
            .values(fanned_out=True)
        )
        if unwanted:
            await session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(unwanted)))
        return len(events)

    async def _claim(self, session: AsyncSession) -> list[Claimed]:
        now = utcnow()
        earlier = aliased(WebhookDelivery)
        statement = (
            select(
                WebhookDelivery.id.label("delivery_id"),
                WebhookDelivery.attempts,
                WebhookSubscription.id.label("subscription_id"),
                WebhookSubscription.url,
                WebhookSubscription.secret,
                WebhookSubscription.previous_secret,
                WebhookSubscription.previous_secret_until,
                WebhookEvent.message_id,
                WebhookEvent.body,
            )
            .select_from(WebhookDelivery)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.active.is_(True),
                ~exists().where(
                    and_(
                        earlier.subscription_id == WebhookDelivery.subscription_id,
                        earlier.resource == WebhookDelivery.resource,
                        earlier.status == "pending",
                        earlier.event_id < WebhookDelivery.event_id,
                    )
                ),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(CLAIM_BATCH)
        )
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(of=WebhookDelivery, skip_locked=True)
        rows = (await session.execute(statement)).all()
        if not rows:
            return []
        leased_until = now + self.policy.lease
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([row.delivery_id for row in rows]))
            .values(next_attempt_at=leased_until)
            .execution_options(synchronize_session=False)
        )
        return [
            Claimed(
                delivery_id=row.delivery_id,
                subscription_id=row.subscription_id,
                url=row.url,
                secrets=secrets_in_use(row, now),
                message_id=row.message_id,
                body=row.body.encode(),
                attempts=row.attempts,
            )
            for row in rows
        ]

    async def _attempt(self, claimed: Claimed) -> Answer:
        timestamp = int(utcnow().timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": self.policy.user_agent,
            "webhook-id": claimed.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                claimed.secrets,
                message_id=claimed.message_id,
                timestamp=timestamp,
                body=claimed.body,
            ),
        }
        answer = await outbound.post(
            self.clients,
            claimed.url,
            headers=headers,
            body=claimed.body,
            allowed=self.policy.allowed,
        )
        if not answer.ok:
            logger.info(
                "webhook %s delivery %s failed: %s",
                claimed.subscription_id,
                claimed.delivery_id,
                answer.error or f"HTTP {answer.status}",
            )
        return answer

    async def _settle_all(
        self, session: AsyncSession, claimed: Sequence[Claimed], answers: Sequence[Answer]
    ) -> None:
        """The successes in one statement per status code; failures one by one (rare)."""
        now = utcnow()
        succeeded: dict[int, list[Claimed]] = defaultdict(list)
        for item, answer in zip(claimed, answers, strict=True):
            if answer.ok:
                succeeded[answer.status or 200].append(item)
            else:
                await self._settle_failure(session, item, answer, now)
        for status, items in succeeded.items():
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_([item.delivery_id for item in items]),
                    WebhookDelivery.status == "pending",
                )
                .values(
                    status="delivered",
                    attempts=WebhookDelivery.attempts + 1,
                    last_attempt_at=now,
                    finished=now,
                    response_status=status,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )
        recovered = {item.subscription_id for items in succeeded.values() for item in items}
        if recovered:
            await session.execute(
                update(WebhookSubscription)
                .where(
                    WebhookSubscription.id.in_(recovered),
                    WebhookSubscription.failures_in_a_row > 0,
                )
                .values(failures_in_a_row=0, failing_since=None)
                .execution_options(synchronize_session=False)
            )

    async def _settle_failure(
        self, session: AsyncSession, claimed: Claimed, answer: Answer, now: datetime
    ) -> None:
        delivery = await session.get(WebhookDelivery, claimed.delivery_id)
        subscription = await session.get(WebhookSubscription, claimed.subscription_id)
        if delivery is None or subscription is None or delivery.status != "pending":
            return  # the subscription was deleted meanwhile
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.response_status = answer.status
        delivery.last_error = (answer.error or f"HTTP {answer.status}")[:500]
        delay = self.policy.retry_delay(delivery.attempts)
        if delay is None:
            delivery.status = "failed"
            delivery.finished = now
        else:
            delivery.next_attempt_at = now + delay
        self._count_failure(subscription, now, delivery.last_error)

    def _count_failure(self, subscription: WebhookSubscription, now: datetime, error: str) -> None:
        subscription.failures_in_a_row += 1
        subscription.failing_since = subscription.failing_since or now
        if (
            subscription.active
            and subscription.failures_in_a_row >= self.policy.disable_after_failures
            and now - subscription.failing_since >= self.policy.disable_after
        ):
            subscription.active = False
            subscription.disabled_reason = (
                f"turned off at {now.isoformat(timespec='seconds')} after "
                f"{subscription.failures_in_a_row} failed attempts in a row since "
                f"{subscription.failing_since.isoformat(timespec='seconds')}; last: {error}"
            )[:500]
            logger.warning("webhook %s turned off: %s", subscription.id, error)

    async def prune(self) -> None:
        """Finished deliveries, and events with none left, after ``KEEP_FINISHED``."""
        cutoff = utcnow() - KEEP_FINISHED
        async with self.database.transaction() as session:
            await session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.status != "pending", WebhookDelivery.finished < cutoff
                )
            )
            await session.execute(
                delete(WebhookEvent).where(
                    WebhookEvent.fanned_out.is_(True),
                    WebhookEvent.created < cutoff,
                    ~exists().where(WebhookDelivery.event_id == WebhookEvent.id),
                )
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: rounds while there is work, else asleep until an event
        commits (or the poll period passes: retries falling due)."""
        wakeup = self.wakeup or Wakeup(self.policy.poll_seconds)
        failures = 0
        busy = False
        try:
            while not stop.is_set():
                await wakeup.listen(self.database)
                await self._prune_now_and_then()
                try:
                    result = await self.run_once(look_first=not busy)
                    failures = 0
                except Exception:  # a database hiccup must not end the dispatcher
                    failures += 1
                    logger.exception("webhook round failed")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), min(30.0, 2.0**failures))
                    continue
                busy = bool(result.claimed or result.fanned_out)
                if not busy:
                    await wakeup.wait(stop)
                    # Let the changes committing together arrive: one round sends them all.
                    await asyncio.sleep(LINGER)
        finally:
            await wakeup.close()
            await self.aclose()

    async def _prune_now_and_then(self) -> None:
        loop = asyncio.get_running_loop()
        if self._last_prune is None:  # not at start: a minute later, then hourly
            self._last_prune = loop.time() - PRUNE_EVERY + 60
        if loop.time() - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = loop.time()
        try:
            await self.prune()
        except Exception:
            logger.warning("webhook deliveries not pruned", exc_info=True)
