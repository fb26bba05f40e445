"""Every write of the segments domain: create, change, delete, static members, refresh."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, User, normalize_email
from commerce.models import Product
from commerce.services.catalogue import catalogue_invalidate
from lms.db_router import replica_reads
from lms.errors import Conflict, Invalid
from lms.outbox import outbox_enqueue
from lms.registry import Registry
from segments.criteria import CriteriaError, criteria_json, criteria_validate
from segments.models import CustomerMembership, ProductMembership, Segment
from segments.selectors import segment_queryset


@dataclass(frozen=True)
class SegmentUse:
    """One thing that targets a segment: what it is ("campaign", "program", "promotion"), its
    id and name, and the console page that edits it (an admin URL name taking the id)."""

    what: str
    pk: int
    name: str
    admin_url_name: str = ""

    def __str__(self) -> str:
        return f"{self.what} {self.pk} {self.name!r}"


# Higher apps (campaigns, loyalty, promotions) register a function answering what targets a
# segment (``SegmentUse`` items, or plain text such as "campaign 12 'Diwali'"), from their
# AppConfig.ready(), so a segment in use is never deleted from under them and the console can
# link to them. Keyed by the function's dotted name: registering it again is a no-op.
SegmentUsage = Callable[[Segment], list["SegmentUse | str"]]
usages: Registry[SegmentUsage] = Registry("segment usages")


def _usage_key(usage: SegmentUsage) -> str:
    return f"{usage.__module__}.{usage.__qualname__}"


def register_segment_usage(usage: SegmentUsage) -> SegmentUsage:
    return usages.register(_usage_key(usage), usage)


def unregister_segment_usage(usage: SegmentUsage) -> None:
    usages.unregister(_usage_key(usage))


def segment_usages(segment: Segment) -> list["SegmentUse | str"]:
    """What targets the segment, in the order of the registered functions' names."""
    return [name for _, usage in usages.items() for name in usage(segment)]


def criteria_check(*, kind: str, criteria: Any) -> dict[str, Any]:
    """The validated tree as JSON to store, or a 400 naming the bad node (``criteria.all[1].value``)."""
    try:
        return criteria_json(criteria_validate(kind, criteria))
    except CriteriaError as error:
        raise Invalid(
            "criteria_invalid", f"{error.path}: {error.message}", path=error.path, **{error.path: [error.message]}
        )


def _membership_model(segment: Segment):
    return CustomerMembership if segment.kind == Segment.Kind.USER else ProductMembership


def _name_taken(name: str, exclude: int | None = None) -> bool:
    return Segment.objects.filter(name__iexact=name).exclude(pk=exclude).exists()


@transaction.atomic
def segment_create(
    *,
    name: str,
    kind: str,
    type: str,
    criteria: Any = None,
    members: list[str] | None = None,
    description: str = "",
    created_by: User | None = None,
) -> Segment:
    """A dynamic segment (refreshed on commit by a task) or a static one with its members."""
    if _name_taken(name):
        raise Conflict("segment_name_taken", f"A segment named {name!r} exists.")
    if type == Segment.Type.DYNAMIC:
        if criteria is None:
            raise Invalid("criteria_required", "A dynamic segment needs criteria.", path="criteria")
        criteria = criteria_check(kind=kind, criteria=criteria)
    elif criteria is not None:
        raise Invalid("criteria_not_allowed", "A static segment has members, not criteria.", path="criteria")
    if members and type == Segment.Type.DYNAMIC:
        raise Invalid("members_not_allowed", "A dynamic segment's members come from its criteria.", path="members")
    try:
        segment = Segment(
            name=name, description=description, kind=kind, type=type, criteria=criteria, created_by=created_by
        )
        segment._change_reason = "Created"  # the history's "change reason" column
        segment.save(force_insert=True)
    except IntegrityError:
        raise Conflict("segment_name_taken", f"A segment named {name!r} exists.")
    segment.unknown_members = []
    if type == Segment.Type.STATIC:
        segment.unknown_members = _static_members_replace(segment, members or [])
    else:
        _refresh_later(segment)
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, **changes: Any) -> Segment:
    """Change name, description or criteria; new criteria are refreshed on commit."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if not changes:  # nothing to write: no history row for a save that changed nothing
        return segment
    if "name" in changes and _name_taken(changes["name"], exclude=segment.pk):
        raise Conflict("segment_name_taken", f"A segment named {changes['name']!r} exists.")
    if "criteria" in changes:
        if segment.type != Segment.Type.DYNAMIC:
            raise Invalid("criteria_not_allowed", "A static segment has members, not criteria.", path="criteria")
        changes["criteria"] = criteria_check(kind=segment.kind, criteria=changes["criteria"])
    for field, value in changes.items():
        setattr(segment, field, value)
    if "criteria" in changes:
        segment.status = Segment.Status.PENDING
        _refresh_later(segment)
    segment._change_reason = "Changed " + ", ".join(changes)
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:  # renamed concurrently to the same name: the constraint settles it
        raise Conflict("segment_name_taken", f"A segment named {segment.name!r} exists.")
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    """Delete a segment nothing targets; 409 naming what does."""
    users = [str(use) for use in segment_usages(segment)]
    if users:
        raise Conflict(
            "segment_in_use", f"The segment is targeted by {', '.join(users)}; detach it first.", targeted_by=users
        )
    if segment.kind == Segment.Kind.PRODUCT:
        catalogue_invalidate()
    segment.delete()


@dataclass(frozen=True)
class StaticMembers:
    segment: Segment
    unknown: list[str]


def _static_members_replace(segment: Segment, members: list[str]) -> list[str]:
    keys = list(dict.fromkeys(member.strip() for member in members if member and member.strip()))
    if segment.kind == Segment.Kind.USER:
        emails = [normalize_email(key) for key in keys if "@" in key]
        ids = [key for key in keys if "@" not in key]
        # Only accounts a segment may hold: a staff or ADMIN address is reported as unknown.
        found = User.objects.filter(
            Q(email__in=emails) | Q(external_id__in=ids), is_staff=False, is_superuser=False, role=Role.USER
        ).values_list("pk", "email", "external_id")
        pks = {pk for pk, _, _ in found}
        known = {email for _, email, _ in found} | {external for _, _, external in found if external}
        unknown = [key for key in keys if (normalize_email(key) if "@" in key else key) not in known]
        rows = [CustomerMembership(segment=segment, customer_id=pk) for pk in sorted(pks)]
    else:
        found = dict(Product.objects.filter(sku__in=keys).values_list("sku", "pk"))
        unknown = [key for key in keys if key not in found]
        rows = [ProductMembership(segment=segment, product_id=pk) for pk in sorted(set(found.values()))]
    model = _membership_model(segment)
    model.objects.filter(segment=segment).delete()
    model.objects.bulk_create(rows, batch_size=5000)
    if model is ProductMembership:
        catalogue_invalidate()  # the cart evaluation's products carry their segments
    Segment.objects.filter(pk=segment.pk).update(
        member_count=len(rows), status=Segment.Status.READY, last_refreshed_at=timezone.now(), refresh_error=""
    )
    return unknown


@transaction.atomic
def segment_members_replace(*, segment: Segment, members: list[str]) -> StaticMembers:
    """A static segment's members become exactly ``members`` (emails or external ids for
    customers, skus for products); the ones not found are answered, not stored."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.type != Segment.Type.STATIC:
        raise Conflict("segment_not_static", "Only a static segment's members are uploaded; this one has criteria.")
    unknown = _static_members_replace(segment, members)
    segment.refresh_from_db()
    return StaticMembers(segment=segment, unknown=unknown)


def _refresh_later(segment: Segment) -> None:
    outbox_enqueue("segments.tasks.segment_refresh_task", segment.pk)


def segment_refresh(*, segment_id: int, at=None) -> Segment:
    """Recompute a dynamic segment's membership with one ``INSERT ... SELECT`` and swap it in
    atomically: readers see the old members until the new ones are committed. ``at`` pins
    the evaluation time (default: now)."""
    now = at or timezone.now()
    try:
        with transaction.atomic():
            # Locked: two refreshes of one segment take turns instead of interleaving.
            segment = Segment.objects.select_for_update().get(pk=segment_id)
            if segment.type == Segment.Type.STATIC:
                count = _membership_model(segment).objects.filter(segment=segment).count()
            else:
                count = _materialise(segment, now)
            segment.member_count, segment.status = count, Segment.Status.READY
            segment.last_refreshed_at, segment.refresh_error = now, ""
            # An UPDATE, not save(): a refresh is not an edit, so it leaves no history row.
            segment.updated_at = timezone.now()
            Segment.objects.filter(pk=segment.pk).update(
                member_count=count, status=segment.status, last_refreshed_at=now, refresh_error="",
                updated_at=segment.updated_at,
            )  # fmt: skip
            return segment
    except Segment.DoesNotExist:
        raise
    except Exception as exc:
        Segment.objects.filter(pk=segment_id).update(status=Segment.Status.FAILED, refresh_error=str(exc)[:2000])
        raise


def _materialise(segment: Segment, now) -> int:
    model = _membership_model(segment)
    column = "customer_id" if segment.kind == Segment.Kind.USER else "product_id"
    members = segment_queryset(segment.kind, segment.criteria, now=now).order_by().values_list("pk", flat=True)
    table = connection.ops.quote_name(model._meta.db_table)
    model.objects.filter(segment=segment).delete()
    if model is ProductMembership:
        catalogue_invalidate()  # the cart evaluation's products carry their segments
    with replica_reads() as source:
        if source != DEFAULT_DB_ALIAS:
            return _members_insert(segment, model, column, members.iterator(chunk_size=MEMBERS_BATCH))
    members_sql, params = members.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, {column}) SELECT %s, members.* FROM ({members_sql}) AS members",
            [segment.pk, *params],
        )
        return cursor.rowcount


MEMBERS_BATCH = 10_000


def _members_insert(segment: Segment, model, column: str, ids: Iterator[int]) -> int:
    """Members evaluated on the replica, inserted on the primary in batches. A replica lags: a
    customer (or product) deleted on the primary may still be there, so only ids the primary
    still holds are inserted (the next refresh sees the rest)."""
    target = model._meta.get_field(column.removesuffix("_id")).related_model._meta.db_table
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} (segment_id, {column}) "
        f"SELECT %s, ids.id FROM unnest(%s::bigint[]) AS ids(id) "
        f"WHERE EXISTS (SELECT 1 FROM {connection.ops.quote_name(target)} AS t WHERE t.id = ids.id)"
    )
    count = 0
    with connection.cursor() as cursor:
        while batch := list(islice(ids, MEMBERS_BATCH)):
            cursor.execute(sql, [segment.pk, batch])
            count += cursor.rowcount
    return count
