"""Refreshing materialised membership: exact replacement, failures, atomicity under concurrency,
the membership check campaigns use, the command and the periodic task."""

import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL

from accounts.models import User
from lms.testing import run_concurrently
from segments.criteria import NUMBER_OPS, USER, CriteriaError, Field, register_field, unregister_field
from segments.models import CustomerMembership, Segment
from segments.selectors import segment_contains
from segments.services import segment_refresh
from segments.tasks import segment_refresh_task, segments_refresh_all_task
from segments.tests.factories import CustomerFactory, SegmentFactory, StaticSegmentFactory, city_in, city_is


def member_ids(segment: Segment) -> set[int]:
    return set(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))


def bulk_customers(count: int, city: str, prefix: str) -> list[int]:
    User.objects.bulk_create(
        [User(email=f"{prefix}{n}@example.com", password="!", city=city) for n in range(count)], batch_size=2000
    )
    return list(User.objects.filter(email__startswith=prefix).values_list("pk", flat=True))


@pytest.fixture
def exploding_field():
    """A USER field whose SQL fails when executed (division by zero), i.e. after the refresh
    has already deleted the old membership inside its transaction."""
    name = "test_explodes"
    register_field(
        Field(
            name, USER, "test", "Fails in SQL", "integer", NUMBER_OPS,
            expression=lambda ctx: RawSQL("(1 / (SELECT 0))", [], output_field=IntegerField()),
        )
    )  # fmt: skip
    yield {"all": [{"field": name, "op": "gte", "value": 1}]}
    unregister_field(USER, name)


# --- Exact replacement ------------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_replaces_membership_exactly():
    stays, leaves = CustomerFactory(city="Pune"), CustomerFactory(city="Pune")
    CustomerFactory(city="Delhi")
    segment = SegmentFactory(criteria=city_is("Pune"))
    first = segment_refresh(segment_id=segment.pk)
    assert member_ids(segment) == {stays.pk, leaves.pk}
    User.objects.filter(pk=leaves.pk).update(city="Delhi")
    joins = CustomerFactory(city="pune")

    second = segment_refresh(segment_id=segment.pk)

    assert member_ids(segment) == {stays.pk, joins.pk}
    assert CustomerMembership.objects.filter(segment=segment).count() == 2
    segment.refresh_from_db()
    assert segment.status == Segment.Status.READY and segment.refresh_error == ""
    assert segment.member_count == 2 == second.member_count
    assert segment.last_refreshed_at == second.last_refreshed_at
    assert second.last_refreshed_at > first.last_refreshed_at


@pytest.mark.django_db
def test_refresh_of_one_segment_leaves_the_others_alone():
    pune, delhi = CustomerFactory(city="Pune"), CustomerFactory(city="Delhi")
    segment = SegmentFactory(criteria=city_is("Pune"))
    other = SegmentFactory(criteria=city_is("Delhi"))
    segment_refresh(segment_id=other.pk)

    segment_refresh(segment_id=segment.pk)

    assert member_ids(segment) == {pune.pk}
    assert member_ids(other) == {delhi.pk}


@pytest.mark.django_db
def test_refresh_to_nobody_empties_the_membership():
    CustomerFactory(city="Pune")
    segment = SegmentFactory(criteria=city_is("Pune"))
    segment_refresh(segment_id=segment.pk)
    User.objects.update(city="Delhi")

    refreshed = segment_refresh(segment_id=segment.pk)

    assert refreshed.member_count == 0
    assert member_ids(segment) == set()


@pytest.mark.django_db
def test_refresh_of_a_deleted_segment_raises_and_the_task_ignores_it():
    segment = SegmentFactory()
    segment_id = segment.pk
    segment.delete()

    with pytest.raises(Segment.DoesNotExist):
        segment_refresh(segment_id=segment_id)
    assert segment_refresh_task.delay(segment_id).get() is None


# --- Failures ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_refresh_marks_the_segment_failed_and_keeps_the_previous_members():
    pune = CustomerFactory.create_batch(2, city="Pune")
    segment = SegmentFactory(criteria=city_is("Pune"))
    before = segment_refresh(segment_id=segment.pk).last_refreshed_at
    CustomerFactory(city="Pune")
    Segment.objects.filter(pk=segment.pk).update(criteria={"all": [{"field": "no_such_field", "op": "eq", "value": 1}]})

    with pytest.raises(CriteriaError):
        segment_refresh(segment_id=segment.pk)

    segment.refresh_from_db()
    assert segment.status == Segment.Status.FAILED
    assert "no_such_field" in segment.refresh_error
    assert segment.member_count == 2 and segment.last_refreshed_at == before
    assert member_ids(segment) == {c.pk for c in pune}


@pytest.mark.django_db
def test_a_stored_date_past_the_range_fails_the_refresh_naming_its_path():
    segment = SegmentFactory(criteria=city_is("Pune"))
    late = {"all": [{"field": "signed_up", "op": "after", "value": "9999-12-31"}]}
    Segment.objects.filter(pk=segment.pk).update(criteria=late)  # saved before dates were checked

    with pytest.raises(CriteriaError):
        segment_refresh(segment_id=segment.pk)

    segment.refresh_from_db()
    assert segment.status == Segment.Status.FAILED
    assert segment.refresh_error.startswith("criteria.all[0].value: Expected a date from 1900-01-01")


@pytest.mark.django_db
def test_a_refresh_failing_in_sql_rolls_back_its_delete(exploding_field):
    pune = CustomerFactory.create_batch(2, city="Pune")
    segment = SegmentFactory(criteria=city_is("Pune"))
    segment_refresh(segment_id=segment.pk)
    Segment.objects.filter(pk=segment.pk).update(criteria=exploding_field)

    with pytest.raises(DatabaseError):
        segment_refresh(segment_id=segment.pk)

    segment.refresh_from_db()
    assert segment.status == Segment.Status.FAILED
    assert "division by zero" in segment.refresh_error
    assert segment.member_count == 2
    assert member_ids(segment) == {c.pk for c in pune}


@pytest.mark.django_db
def test_a_later_successful_refresh_clears_the_failure():
    member = CustomerFactory(city="Pune")
    segment = SegmentFactory(criteria=city_is("Pune"), status=Segment.Status.FAILED, refresh_error="boom")

    segment_refresh(segment_id=segment.pk)

    segment.refresh_from_db()
    assert (segment.status, segment.refresh_error, segment.member_count) == ("READY", "", 1)
    assert member_ids(segment) == {member.pk}


# --- Concurrency (real threads, PostgreSQL) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_readers_never_see_a_half_built_membership():
    bulk_customers(1500, "Pune", "pune")
    bulk_customers(1500, "Delhi", "delhi")
    segment = SegmentFactory(criteria=city_is("Pune"))
    segment_refresh(segment_id=segment.pk)
    assert CustomerMembership.objects.filter(segment=segment).count() == 1500
    alternatives = [city_in("Pune", "Delhi"), city_is("Pune")]  # 3,000 then 1,500 members, in turn
    barrier = threading.Barrier(2)
    done = threading.Event()
    reads: list[int] = []
    errors: list[BaseException] = []

    def refresher() -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(20):
                Segment.objects.filter(pk=segment.pk).update(criteria=alternatives[n % 2])
                segment_refresh(segment_id=segment.pk)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    def reader() -> None:
        try:
            barrier.wait(timeout=10)
            while not done.is_set():
                reads.append(CustomerMembership.objects.filter(segment_id=segment.pk).count())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresher), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    assert len(reads) > 20  # the reader really overlapped the refreshes
    assert set(reads) <= {1500, 3000}, sorted(set(reads))
    segment.refresh_from_db()
    assert segment.member_count == 1500 == CustomerMembership.objects.filter(segment=segment).count()


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_segment_leave_one_row_per_member():
    members = set(bulk_customers(500, "Pune", "pune"))
    bulk_customers(100, "Delhi", "delhi")
    segment = SegmentFactory(criteria=city_is("Pune"))

    results = run_concurrently(4, lambda _: segment_refresh(segment_id=segment.pk).member_count)

    assert results == [500] * 4
    rows = list(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))
    assert len(rows) == 500 and set(rows) == members
    segment.refresh_from_db()
    assert segment.status == Segment.Status.READY and segment.member_count == 500


# --- segment_contains -------------------------------------------------------------------------


@pytest.mark.django_db
def test_segment_contains_reads_the_materialised_membership():
    member, outsider = CustomerFactory(city="Pune"), CustomerFactory(city="Delhi")
    segment = SegmentFactory(criteria=city_is("Pune"))
    assert not segment_contains(segment, member)  # never refreshed: nobody yet
    segment_refresh(segment_id=segment.pk)

    assert segment_contains(segment, member)
    assert segment_contains(segment.pk, member.pk)
    assert not segment_contains(segment, outsider)

    User.objects.filter(pk=member.pk).update(city="Delhi")
    assert segment_contains(segment, member)  # as of the last refresh
    segment_refresh(segment_id=segment.pk)
    assert not segment_contains(segment, member)


# --- The command and the periodic task --------------------------------------------------------


@pytest.mark.django_db
def test_refresh_segments_command_refreshes_the_given_segment():
    CustomerFactory.create_batch(2, city="Pune")
    segment = SegmentFactory(name="Pune", criteria=city_is("Pune"))
    other = SegmentFactory(criteria=city_is("Pune"))
    out = StringIO()

    call_command("refresh_segments", "--id", str(segment.pk), "--no-progress", stdout=out, stderr=StringIO())

    assert out.getvalue().strip() == f"{segment.pk} Pune: 2 members"
    segment.refresh_from_db()
    other.refresh_from_db()
    assert segment.status == Segment.Status.READY and segment.member_count == 2
    assert other.status == Segment.Status.PENDING and not member_ids(other)


@pytest.mark.django_db
def test_refresh_segments_command_refreshes_every_segment_by_default():
    CustomerFactory(city="Pune")
    CustomerFactory.create_batch(2, city="Delhi")
    pune = SegmentFactory(criteria=city_is("Pune"))
    delhi = SegmentFactory(criteria=city_is("Delhi"))
    out = StringIO()

    call_command("refresh_segments", "--no-progress", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines == [f"{pune.pk} {pune.name}: 1 members", f"{delhi.pk} {delhi.name}: 2 members"]
    assert Segment.objects.filter(status=Segment.Status.READY).count() == 2


@pytest.mark.django_db
def test_refresh_segments_command_refuses_an_unknown_id():
    segment = SegmentFactory()

    with pytest.raises(CommandError, match="No segment with id 999999"):
        call_command("refresh_segments", "--id", str(segment.pk), "--id", "999999", "--no-progress", stdout=StringIO())

    segment.refresh_from_db()
    assert segment.status == Segment.Status.PENDING


@pytest.mark.django_db
def test_refresh_segments_command_goes_on_past_a_failing_segment():
    CustomerFactory(city="Pune")
    broken = SegmentFactory(name="Broken")
    Segment.objects.filter(pk=broken.pk).update(criteria={"all": [{"field": "no_such_field", "op": "eq", "value": 1}]})
    fine = SegmentFactory(criteria=city_is("Pune"))
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 segment"):
        call_command("refresh_segments", "--no-progress", stdout=out, stderr=err)

    assert f"{broken.pk} Broken: FAILED" in err.getvalue()
    assert f"{fine.pk} {fine.name}: 1 members" in out.getvalue()
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.status == Segment.Status.FAILED and fine.status == Segment.Status.READY


@pytest.mark.django_db
def test_refresh_all_task_refreshes_every_dynamic_segment():
    CustomerFactory.create_batch(2, city="Pune")
    CustomerFactory(city="Delhi")
    pune = SegmentFactory(criteria=city_is("Pune"))
    delhi = SegmentFactory(criteria=city_is("Delhi"))
    static = StaticSegmentFactory()

    enqueued = segments_refresh_all_task.delay().get()

    assert enqueued == 2
    pune.refresh_from_db()
    delhi.refresh_from_db()
    static.refresh_from_db()
    assert (pune.status, pune.member_count) == ("READY", 2)
    assert (delhi.status, delhi.member_count) == ("READY", 1)
    assert static.status == Segment.Status.PENDING and static.last_refreshed_at is None
