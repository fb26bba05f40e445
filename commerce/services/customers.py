"""Customers as the platform knows them: ``accounts.User`` rows keyed by external_id or email."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.models import User, normalize_email
from commerce.services import ItemResult
from lms.errors import Conflict, Forbidden, Invalid, NotFound

CUSTOMER_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "country",
    "state",
    "city",
    "platform_signed_up_at",
    "marketing_email",
    "marketing_sms",
    "marketing_push",
)


def _ref_key(ref: dict[str, Any]) -> str:
    return ref.get("external_id") or normalize_email(ref.get("email", ""))


class CustomerResolver:
    """Finds (and where allowed, creates) the customers a batch refers to, in a constant
    number of queries: one read, one insert of the missing ones, one re-read after a race."""

    def __init__(self, refs: Iterable[dict[str, Any]], *, create_missing: bool = True) -> None:
        self.refs = [ref for ref in refs if ref]
        self.create_missing = create_missing
        self.by_external_id: dict[str, User] = {}
        self.by_email: dict[str, User] = {}
        self.created_ids: set[int] = set()  # the customers resolve() inserted itself

    def _load(self, external_ids: set[str], emails: set[str]) -> None:
        if not external_ids and not emails:
            return
        found = User.objects.filter(Q(external_id__in=external_ids) | Q(email__in=emails)).only(
            "id", "email", "external_id", "is_staff", "is_superuser", "role"
        )
        for user in found:
            if user.external_id:
                self.by_external_id[user.external_id] = user
            self.by_email[user.email] = user

    def resolve(self) -> "CustomerResolver":
        external_ids = {ref["external_id"] for ref in self.refs if ref.get("external_id")}
        emails = {normalize_email(ref["email"]) for ref in self.refs if ref.get("email")}
        self._load(external_ids, emails)
        if not self.create_missing:
            return self
        missing: dict[str, User] = {}
        for ref in self.refs:
            try:
                if self.find(ref) is not None or not ref.get("email"):
                    continue
            except Conflict:
                continue  # get() reports it for the item
            email = normalize_email(ref["email"])
            if email in missing:
                continue
            missing[email] = User(
                email=email,
                external_id=ref.get("external_id") or None,
                first_name=ref.get("first_name", ""),
                last_name=ref.get("last_name", ""),
                phone=ref.get("phone", ""),
                password=make_password(None),  # no password until the person signs up
            )
        if missing:
            # A concurrent ingest may create the same customer: skip it here and re-read.
            # In email order, so two batches creating the same customers cannot deadlock.
            new = sorted(missing.values(), key=lambda user: user.email)
            User.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
            self._load({u.external_id for u in missing.values() if u.external_id}, set(missing))
            # Which rows this resolver really inserted, not a concurrent call (whose row ours
            # waited for, then skipped): each unusable password is random, so ours match.
            stored = User.objects.filter(email__in=missing).values_list("pk", "email", "password")
            self.created_ids = {pk for pk, email, password in stored if password == missing[email].password}
        return self

    def find(self, ref: dict[str, Any]) -> User | None:
        """The customer for a reference, None when there is none; 409 when the reference
        contradicts itself or names a console account."""
        user = None
        if ref.get("external_id") and ref["external_id"] in self.by_external_id:
            user = self.by_external_id[ref["external_id"]]
        elif ref.get("email"):
            user = self.by_email.get(normalize_email(ref["email"]))
            if user is not None and ref.get("external_id") and user.external_id not in (None, ref["external_id"]):
                raise Conflict(
                    "customer_conflict",
                    f"{user.email} is the customer with external_id {user.external_id!r}, not {ref['external_id']!r}.",
                )
        return customer_plain(user) if user is not None else None

    def get(self, ref: dict[str, Any]) -> User:
        """The customer for a reference, or a domain error naming what is missing."""
        user = self.find(ref)
        if user is not None:
            return user
        if ref.get("email"):
            raise Conflict("customer_conflict", "The customer's email belongs to another customer record.")
        raise Invalid(
            "customer_unknown",
            f"No customer with external_id {ref.get('external_id')!r}; send the customer first or include an email.",
        )


def _protected() -> Conflict:
    # An integration key must never reach a console account: attaching an external_id or a
    # new login email to a staff/ADMIN record without a password, then asking for a reset
    # link, would hand the account to whoever holds the key.
    return Conflict(
        "customer_protected",
        "This email or external_id belongs to a staff or ADMIN account, which is not a customer record.",
    )


def customer_plain(user: User) -> User:
    """The user when it may be acted on as a customer (carts, redemptions, points); a staff,
    ADMIN or superuser account is 409 ``customer_protected``, however it was named."""
    if not user.is_plain_customer:
        raise _protected()
    return user


def _customer_changes(user: User, item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in CUSTOMER_FIELDS if name in item and getattr(user, name) != item[name]}


def customers_upsert(*, items: list[dict[str, Any]]) -> list[ItemResult]:
    """Create or update customers by external_id, else email; each item is whole or not at all.

    Only records nobody has claimed change: a staff or ADMIN account is never a customer
    record (``customer_protected``), and an account whose owner has signed up (has a
    password) changes only through them (``email_locked`` for its login email,
    ``customer_claimed`` for the rest); sending it unchanged is fine.
    """
    results = []
    with transaction.atomic():
        refs = [{"external_id": item.get("external_id"), "email": item.get("email")} for item in items]
        resolver = CustomerResolver(refs, create_missing=False).resolve()
        # Every matched customer locked once, in primary-key order: two batches touching the
        # same customers wait for each other instead of deadlocking.
        matched = {user.pk for user in [*resolver.by_external_id.values(), *resolver.by_email.values()]}
        locked = {user.pk: user for user in User.objects.select_for_update().filter(pk__in=matched).order_by("pk")}
        for index, item in enumerate(items):
            result = ItemResult(index=index, key=_ref_key(item))
            results.append(result)
            email = normalize_email(item["email"]) if item.get("email") else None
            by_external = resolver.by_external_id.get(item["external_id"]) if item.get("external_id") else None
            by_email = resolver.by_email.get(email) if email else None
            user = by_external or by_email
            try:
                with transaction.atomic():
                    if user is None:
                        if email is None:
                            raise Invalid("customer_email_required", "A new customer needs an email.")
                        user = User(email=email, external_id=item.get("external_id") or None)
                        user.set_unusable_password()
                        for name, value in _customer_changes(user, item).items():
                            setattr(user, name, value)
                        user.save()
                        result.outcome = "created"
                    else:
                        if by_external and by_email and by_external.pk != by_email.pk:
                            raise Conflict(
                                "customer_conflict",
                                f"external_id {item['external_id']!r} and email {email!r} name two different customers.",
                            )
                        user = locked[user.pk]
                        if not user.is_plain_customer:
                            raise _protected()
                        changes = _customer_changes(user, item)
                        if item.get("external_id") and user.external_id != item["external_id"]:
                            if user.external_id:
                                raise Conflict(
                                    "customer_conflict",
                                    f"{email} already has external_id {user.external_id!r}.",
                                )
                            changes["external_id"] = item["external_id"]
                        if email and user.email != email:
                            changes["email"] = email
                        if changes and user.has_usable_password():
                            if "email" in changes:
                                raise Conflict(
                                    "email_locked",
                                    "This customer has signed up; their login email changes only through them.",
                                )
                            raise Conflict(
                                "customer_claimed",
                                "This customer has signed up; their record changes only through them.",
                            )
                        for name, value in changes.items():
                            setattr(user, name, value)
                        if changes:
                            user.save(update_fields=[*changes, "updated_at"])
                        result.outcome = "updated" if changes else "unchanged"
                    result.obj = user
                    for key_map, key in ((resolver.by_external_id, user.external_id), (resolver.by_email, user.email)):
                        if key:
                            key_map[key] = user
            except IntegrityError:
                result.reject(Conflict("customer_conflict", "The email or external_id belongs to another customer."))
            except (Invalid, Conflict) as error:
                result.reject(error)
    return results


def customer_matches(user: User, ref: dict[str, Any]) -> bool:
    """``ref`` (id, external_id, email: any of them) names ``user``."""
    return (
        ref.get("id", user.pk) == user.pk
        and ref.get("external_id", user.external_id) == user.external_id
        and normalize_email(ref.get("email", user.email)) == user.email
    )


def customer_for(*, acting: User | None, ref: dict[str, Any] | None, create: bool) -> tuple[User | None, bool]:
    """The customer a call acts for, and whether an identity was given at all.

    ``acting`` is a signed-in customer acting for themselves: them (naming another is 403).
    Otherwise (the integration, an ADMIN) the customer ``ref`` names: by id (404 when none),
    else by external_id or email, created when ``create`` (else None: not mirrored yet, judged
    as a new customer)."""
    if acting is not None:
        if ref and not customer_matches(acting, ref):
            raise Forbidden("customer_mismatch", "A customer acts for themselves only (their own cart and points).")
        return acting, True
    if not ref:
        return None, False
    if "id" in ref:
        found = User.objects.filter(pk=ref["id"]).first()
        if found is None:
            raise NotFound("customer_not_found", f"No customer with id {ref['id']}.", path="customer.id")
        return customer_plain(found), True
    resolver = CustomerResolver([ref], create_missing=create).resolve()
    if not create:
        return resolver.find(ref), True
    return resolver.get(ref), True
