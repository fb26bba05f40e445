"""Messages a loyalty program sends its members: points earned, points expiring, tier changes.

Each is switchable per program (``ProgramSettings``: ``points_earned_on``,
``points_expiring_on`` with ``points_expiring_days``, ``tier_change_on``), goes on the
program's ``message_channels`` (IN_APP by default; none = no messages), and has default
content that a program may override (a blank title or body keeps the default). All are
MARKETING messages: the customer's consents, the frequency cap and quiet hours apply (a points
statement is welcome, not owed: a customer who said no to marketing SMS gets none of these
by SMS either).

- Points earned: one message per program per ingestion batch (never one per order inside the
  bulk path), written in the ingesting transaction after the ledger rows: audience the batch's
  earning customers, key ``points-earned:<program>:<first tx id>-<last tx id>``; each
  recipient's ``points`` are read back from the ledger by the context provider (the batch's
  EARN rows of that account: ids in the range, one query per fan-out batch). The accounts were
  row-locked while their rows were written, so another batch's rows for the same account never
  fall inside the range.
- Points expiring: the daily beat (``points_expiring_notify_task``) sends one message per
  program per day (key ``points-expiring:<program>:<local date>``) to members holding
  spendable points that expire within ``points_expiring_days`` and were not announced before:
  the window runs from where the last reminder stopped (``points_expiring_notified_until``)
  to now + N days, so each lot is announced once and a missed day is caught up.
- Tier changes: up from earning (orders, login streaks), up or down from the daily
  re-evaluation; one message per program per (previous tier, new tier) per batch.

Placeholders (besides ``first_name``, ``last_name``, ``email``): ``program_name``,
``points_balance`` and ``tier`` in all of them; ``points`` (earned); ``expiring_points`` and
``expires_on`` (expiring); ``previous_tier`` (tier changes). A program's own announcement
(``notify_*``, sent when it is switched on) may use ``campaign_name``, ``program_name``,
``starts_on``, ``ends_on``, ``points_balance`` and ``tier``.
"""

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q, Sum
from django.utils import timezone

from campaigns.engine.schedule import zone
from campaigns.services.announcements import BUILT_IN, placeholders_check
from lms.errors import Invalid
from loyalty.models import LoyaltyAccount, PointsTransaction, ProgramSettings, Source, TransactionKind
from notifications.content import Content, content_check
from notifications.models import Message, Purpose
from notifications.services.messages import message_send

POINTS_EARNED, POINTS_EXPIRING, TIER_CHANGED, PROGRAM = "points_earned", "points_expiring", "tier_changed", "program"
EXPIRING_AUDIENCE = "points_expiring"

PLACEHOLDERS = {
    "program_name": "The loyalty program's name.",
    "points": "Points an order earned (points-earned messages).",
    "points_balance": "The member's points in the program (pending ones included).",
    "tier": "The member's tier name (empty without one).",
    "previous_tier": "The tier before a change (tier-change messages; empty without one).",
    "expiring_points": "Points expiring soon (expiring-points reminders).",
    "expires_on": "The first day those points expire (YYYY-MM-DD, on the program's clock).",
}
COMMON = frozenset({"program_name", "points_balance", "tier"})
# What each message may use; a template naming anything else is refused when it is saved.
ALLOWED = {
    "points_earned": BUILT_IN | COMMON | {"points"},
    "points_expiring": BUILT_IN | COMMON | {"expiring_points", "expires_on"},
    "tier_up": BUILT_IN | COMMON | {"previous_tier"},
    "tier_down": BUILT_IN | COMMON | {"previous_tier"},
}
ANNOUNCE_PLACEHOLDERS = frozenset({"campaign_name", "program_name", "starts_on", "ends_on", "points_balance", "tier"})

DEFAULTS = {
    "points_earned": Content(
        title="You earned {{ points }} points",
        body="Hi {{ first_name or 'there' }}, you earned {{ points }} points in {{ program_name }}."
        " Your balance is now {{ points_balance }} points.",
    ),
    "points_expiring": Content(
        title="{{ expiring_points }} points expire soon",
        body="Hi {{ first_name or 'there' }}, {{ expiring_points }} of your {{ program_name }} points expire on"
        " {{ expires_on }}. Use them before then.",
    ),
    "tier_up": Content(
        title="Welcome to {{ tier }}",
        body="Hi {{ first_name or 'there' }}, you moved up to {{ tier }} in {{ program_name }}.",
    ),
    "tier_down": Content(
        title="Your {{ program_name }} tier changed",
        body="Hi {{ first_name or 'there' }}, your {{ program_name }} tier is now {{ tier or 'the base level' }}"
        " (it was {{ previous_tier or 'the base level' }}).",
    ),
}
EVENTS = tuple(DEFAULTS)
MAX_EXPIRING_DAYS = 90


@dataclass(frozen=True)
class ProgramMessages:
    """A program's message settings as the hooks read them (part of the loyalty snapshot)."""

    channels: tuple[str, ...] = ("IN_APP",)
    points_earned: bool = True
    points_expiring: bool = True
    points_expiring_days: int = 7
    tier_change: bool = True
    content: Mapping[str, Content] = None  # type: ignore[assignment]  # event -> content, defaults filled

    @classmethod
    def of(cls, terms: ProgramSettings) -> "ProgramMessages":
        return cls(
            channels=tuple(terms.message_channels or ()),
            points_earned=terms.points_earned_on,
            points_expiring=terms.points_expiring_on,
            points_expiring_days=terms.points_expiring_days,
            tier_change=terms.tier_change_on,
            content={event: event_content(terms, event) for event in EVENTS},
        )

    def sends(self, event: str) -> bool:
        switch = {"points_earned": self.points_earned, "points_expiring": self.points_expiring}
        return bool(self.channels) and switch.get(event, self.tier_change)


def event_content(terms: Any, event: str) -> Content:
    """The program's content for ``event``: its own title and body where set, else the default's."""
    default = DEFAULTS[event]
    return Content(
        title=getattr(terms, f"{event}_title", "") or default.title,
        body=getattr(terms, f"{event}_body", "") or default.body,
    )


def messages_check(settings: Mapping[str, Any]) -> None:
    """The message settings as ``program_check`` judges them: channels, the reminder's days,
    each overriding template (syntax and placeholders, named by its field)."""
    channels = list(settings.get("message_channels") or [])
    content_check(content=Content(), channels=channels, prefix="message_", required=False)  # "message_channels.0"
    days = settings.get("points_expiring_days")
    if days is not None and not 1 <= days <= MAX_EXPIRING_DAYS:
        error = Invalid("validation_error", f"points_expiring_days: From 1 to {MAX_EXPIRING_DAYS} days.")
        error.details = {"points_expiring_days": [f"From 1 to {MAX_EXPIRING_DAYS} days."]}
        raise error
    for event in EVENTS:
        given = Content(title=settings.get(f"{event}_title") or "", body=settings.get(f"{event}_body") or "")
        content_check(content=given, channels=channels, prefix=f"{event}_", required=False)
        placeholders_check(given, ALLOWED[event], prefix=f"{event}_", what=f"{event.replace('_', ' ')} message")


# --- Sending, from the ledger's writers ------------------------------------------------------------


def _send(program: Any, event: str, *, key: str, source_type: str, audience: dict, context: dict) -> Message:
    return message_send(
        key=key,
        source_type=source_type,
        source_id=str(program.id),
        purpose=Purpose.MARKETING,
        content=program.messages.content[event],
        channels=list(program.messages.channels),
        audience=audience,
        context={"program_name": program.name, **context},
    )


def points_earned_notify(program: Any, rows: Iterable[PointsTransaction]) -> Message | None:
    """One message for a batch's EARN rows of one program (already written: they have ids)."""
    if program.messages is None or not program.messages.sends("points_earned"):
        return None
    earned = [row for row in rows if row.kind == TransactionKind.EARN and row.source == Source.ORDER]
    if not earned:
        return None
    first, last = min(row.pk for row in earned), max(row.pk for row in earned)
    customers = sorted({row.account.customer_id for row in earned})
    return _send(
        program,
        "points_earned",
        key=f"points-earned:{program.id}:{first}-{last}",
        source_type=POINTS_EARNED,
        audience={"kind": "customers", "ids": customers},
        context={"first_tx": first, "last_tx": last},
    )


def tier_changes_notify(program: Any, moves: Mapping[int, tuple[int | None, int | None]], *, batch: str = "") -> int:
    """Tier-change messages for accounts that moved ({customer id: (tier id before, after)}):
    one per (before, after) pair. Answers how many messages."""
    if program.messages is None or not program.messages.sends("tier_changed") or not moves:
        return 0
    names = {tier.id: tier.name for tier in program.tiers}
    thresholds = {tier.id: tier.threshold for tier in program.tiers}
    groups: dict[tuple[int | None, int | None], list[int]] = defaultdict(list)
    for customer_id, (before, after) in moves.items():
        if before != after:
            groups[(before, after)].append(customer_id)
    batch = batch or uuid.uuid4().hex
    for (before, after), customers in sorted(groups.items(), key=lambda item: str(item[0])):
        up = after is not None and (before is None or thresholds.get(after, 0) > thresholds.get(before, 0))
        _send(
            program,
            "tier_up" if up else "tier_down",
            key=f"tier-changed:{program.id}:{before or 0}-{after or 0}:{batch}"[:160],
            source_type=TIER_CHANGED,
            audience={"kind": "customers", "ids": sorted(customers)},
            context={"tier": names.get(after, ""), "previous_tier": names.get(before, "")},
        )
    return len(groups)


def points_expiring_notify(*, now: dt.datetime | None = None) -> int:
    """The daily reminder: per program, one message to members with points expiring within
    its notice days not announced before. Safe to re-run (a day's key is used once).
    Answers how many messages were written."""
    from loyalty.selectors import snapshot_get

    now = now or timezone.now()
    sent = 0
    for program in snapshot_get().programs.values():
        if program.messages is None or not program.messages.sends("points_expiring") or not program.expiry_days:
            continue
        with transaction.atomic():
            # Locked: two beat runs at once agree on one window.
            terms = ProgramSettings.objects.select_for_update().filter(program_id=program.id).first()
            if terms is None:
                continue
            today = now.astimezone(zone(program.campaign.timezone)).date()
            key = f"points-expiring:{program.id}:{today.isoformat()}"
            if Message.objects.filter(key=key).exists():
                continue
            start = max(terms.points_expiring_notified_until or now, now)
            until = now + dt.timedelta(days=terms.points_expiring_days)
            if until <= start:
                continue
            audience = {
                "kind": EXPIRING_AUDIENCE,
                "program": program.id,
                "after": start.isoformat(),
                "until": until.isoformat(),
                "timezone": program.campaign.timezone,
            }
            if expiring_audience(audience, 0, 1):
                _send(program, "points_expiring", key=key, source_type=POINTS_EXPIRING, audience=audience, context={})
                sent += 1
            ProgramSettings.objects.filter(pk=terms.pk).update(points_expiring_notified_until=until)
    return sent


# --- What notifications asks back (registered in apps.ready) ---------------------------------------


def _window(spec: Mapping[str, Any]) -> Q:
    after, until = dt.datetime.fromisoformat(spec["after"]), dt.datetime.fromisoformat(spec["until"])
    # Spendable lots only: a pending lot's expiry runs from its release, not yet due.
    spendable = Q(held=False) | Q(available_at__lte=after)
    return Q(remaining__gt=0, expires_at__gt=after, expires_at__lte=until) & spendable


def expiring_audience(spec: Mapping[str, Any], after: int, limit: int) -> list[int]:
    """Members of a program holding points that expire in the spec's window, by customer id."""
    lots = PointsTransaction.objects.filter(_window(spec), account_id=OuterRef("pk"))
    accounts = LoyaltyAccount.objects.filter(
        Exists(lots), program_id=spec["program"], customer_id__gt=after, customer__is_active=True
    )
    return list(accounts.order_by("customer_id").values_list("customer_id", flat=True)[:limit])


def _accounts(program_id: int, user_ids: list[int]):
    return LoyaltyAccount.objects.filter(program_id=program_id, customer_id__in=user_ids)


def _member_values(user_ids: list[int], rows: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    values = {pk: {"points_balance": 0, "tier": ""} for pk in user_ids}
    for row in rows:
        values[row["customer_id"]] = {"points_balance": row["balance"], "tier": row["tier__name"] or ""}
    return values


def program_context(message: Message, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each recipient's balance and tier in the message's program (one query)."""
    rows = _accounts(int(message.source_id), user_ids).values("customer_id", "balance", "tier__name")
    return _member_values(user_ids, rows)


def points_earned_context(message: Message, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Balance, tier and the points the batch earned each recipient (one query)."""
    first, last = message.context["first_tx"], message.context["last_tx"]
    earned = Q(transactions__id__range=(first, last), transactions__kind=TransactionKind.EARN)
    earned &= Q(transactions__source=Source.ORDER)
    rows = list(
        _accounts(int(message.source_id), user_ids)
        .values("customer_id", "balance", "tier__name")
        .annotate(points=Sum("transactions__points", filter=earned))
    )
    values = _member_values(user_ids, rows)
    for row in rows:
        values[row["customer_id"]]["points"] = row["points"] or 0
    for pk in user_ids:
        values[pk].setdefault("points", 0)
    return values


def points_expiring_context(message: Message, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Balance, tier, the points expiring in the window and their first day (one query)."""
    spec = message.audience
    lots = Q(
        transactions__remaining__gt=0,
        transactions__expires_at__gt=dt.datetime.fromisoformat(spec["after"]),
        transactions__expires_at__lte=dt.datetime.fromisoformat(spec["until"]),
    ) & (Q(transactions__held=False) | Q(transactions__available_at__lte=dt.datetime.fromisoformat(spec["after"])))
    rows = list(
        _accounts(int(message.source_id), user_ids)
        .values("customer_id", "balance", "tier__name")
        .annotate(
            expiring=Sum("transactions__remaining", filter=lots), first=Min("transactions__expires_at", filter=lots)
        )
    )
    values = _member_values(user_ids, rows)
    clock = zone(spec.get("timezone") or "UTC")
    for row in rows:
        first = row["first"]
        values[row["customer_id"]].update(
            expiring_points=row["expiring"] or 0, expires_on=first.astimezone(clock).date().isoformat() if first else ""
        )
    for pk in user_ids:
        values[pk].setdefault("expiring_points", 0)
        values[pk].setdefault("expires_on", "")
    return values
