"""The ``login_streak`` USER criterion: consecutive local days with a login, ending today or
yesterday, compiled into the segment's one SQL query.

Logins are written as local times in Asia/Kolkata (the project's zone) and the expected streak
is computed from them in plain Python, in whatever zone the test sets.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password

from accounts.models import LoginEvent, User
from commerce.models import EventKind, InteractionEvent
from segments.criteria import USER, criteria_compile, criteria_validate, field_get
from segments.tests.evaluation import compare, tree_matches

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)  # 17:30 on 15 June in Asia/Kolkata
KOLKATA = ZoneInfo("Asia/Kolkata")


def ist(day: int, hour: int = 12, minute: int = 0, second: int = 0, month: int = 6) -> dt.datetime:
    """A moment given as a Kolkata wall-clock time in 2025, as UTC."""
    return dt.datetime(2025, month, day, hour, minute, second, tzinfo=KOLKATA).astimezone(dt.UTC)


def days_ago(days: int, hour: int = 12) -> dt.datetime:
    """Noon (Kolkata) ``days`` local days before the evaluation day."""
    return dt.datetime.combine(dt.date(2025, 6, 15) - dt.timedelta(days=days), dt.time(hour), KOLKATA).astimezone(
        dt.UTC
    )


@dataclass(frozen=True)
class Person:
    name: str
    here: tuple[dt.datetime, ...] = ()  # sign-ins here (accounts.LoginEvent)
    platform: tuple[dt.datetime, ...] = ()  # LOGIN events from the platform
    other_events: tuple[tuple[str, dt.datetime], ...] = ()  # events that are not logins
    country: str = ""

    @property
    def email(self) -> str:
        return f"{self.name}@example.com"


PEOPLE = (
    # 00:15 today, 23:45 yesterday and 23:59 the day before, in Kolkata: three local days,
    # but only two UTC days (14 and 13 June), the latest of them yesterday.
    Person("midnight", here=(ist(15, 0, 15), ist(14, 23, 45)), platform=(ist(13, 23, 59),), country="IN"),
    # Exactly local midnight is the new day; one second before is the old one.
    Person("edge", here=(ist(15, 0, 0, 0), ist(14, 23, 59, 59))),
    # Today and yesterday, then a gap of one day, then three more days.
    Person("gappy", here=(days_ago(0), days_ago(1), days_ago(3), days_ago(4), days_ago(5)), country="IN"),
    # Nothing today: a streak that ended yesterday still counts.
    Person("yesterday", platform=(days_ago(1, 9), days_ago(2, 21)), country="IN"),
    # The last login two days ago: the streak is broken.
    Person("lapsed", here=(days_ago(2), days_ago(3), days_ago(4))),
    # Several logins a day, from both sources, count once per day.
    Person(
        "busy",
        here=(days_ago(0, 8), days_ago(0, 9), days_ago(0, 10), days_ago(1, 7)),
        platform=(days_ago(0, 8), days_ago(0, 11), days_ago(1, 7), days_ago(1, 22)),
        country="IN",
    ),
    # Sign-ins here and platform logins interleave into one streak.
    Person("mixed", here=(days_ago(0), days_ago(2), days_ago(5)), platform=(days_ago(1), days_ago(3)), country="US"),
    Person("never"),
    # A login later today, after the evaluation time, and one tomorrow do not count.
    Person("future", here=(NOW + dt.timedelta(hours=1), days_ago(2)), platform=(days_ago(-1),)),
    # Views and cart adds are not logins.
    Person(
        "browser",
        platform=(days_ago(1),),
        other_events=(
            (EventKind.PRODUCT_VIEW, days_ago(0)),
            (EventKind.CART_ADD, days_ago(0)),
            (EventKind.CART_ABANDON, days_ago(2)),
        ),
    ),  # fmt: skip
    # Forty local days in a row, alternating sources, the last one a minute before now.
    Person(
        "loyal",
        here=tuple(days_ago(n) for n in range(1, 40, 2)) + (ist(15, 17, 29),),
        platform=tuple(days_ago(n) for n in range(2, 40, 2)),
        country="IN",
    ),
)
EVERYONE = {p.email for p in PEOPLE}


# --- The expectation, in plain Python -------------------------------------------------------


def streak(person: Person, zone: ZoneInfo) -> int:
    days = {at.astimezone(zone).date() for at in (*person.here, *person.platform) if at <= NOW}
    today = NOW.astimezone(zone).date()
    day = today if today in days else today - dt.timedelta(days=1)
    length = 0
    while day in days:
        length, day = length + 1, day - dt.timedelta(days=1)
    return length


def holds(value: int, op: str, target: Any) -> bool:
    return compare(value, op, target)


def matches(person: Person, tree: dict) -> bool:
    def leaf(tree: dict) -> bool:
        if tree["field"] == "country":
            return person.country.lower() == tree["value"].lower()
        assert tree["field"] == "login_streak", tree
        return holds(streak(person, ZoneInfo(settings.TIME_ZONE)), tree["op"], tree["value"])

    return tree_matches(tree, leaf)


def expected(tree: dict) -> set[str]:
    return {p.email for p in PEOPLE if matches(p, tree)}


# --- The world in the database, and the engine's answer ------------------------------------


@pytest.fixture
def world(db) -> None:
    users = User.objects.bulk_create(
        User(email=p.email, password=make_password(None), country=p.country, date_joined=NOW - dt.timedelta(days=400))
        for p in PEOPLE
    )
    LoginEvent.objects.bulk_create(
        LoginEvent(user=u, occurred_at=at) for u, p in zip(users, PEOPLE, strict=True) for at in p.here
    )
    InteractionEvent.objects.bulk_create(
        InteractionEvent(customer=u, kind=kind, occurred_at=at)
        for u, p in zip(users, PEOPLE, strict=True)
        for kind, at in (*((EventKind.LOGIN, at) for at in p.platform), *p.other_events)
    )


@pytest.fixture
def members(world, django_assert_num_queries):
    """``members(tree)``: the emails the compiled tree selects, read in exactly one query."""

    def run(tree: dict) -> set[str]:
        q = criteria_compile(USER, criteria_validate(USER, tree), now=NOW)
        with django_assert_num_queries(1):
            return set(User.objects.filter(q).values_list("email", flat=True))

    return run


def c(op: str, value: Any) -> dict:
    return {"field": "login_streak", "op": op, "value": value}


def emails(*names: str) -> set[str]:
    return {f"{name}@example.com" for name in names}


CASES = [
    c("gte", 1), c("eq", 0), c("eq", 1), c("eq", 2), c("gte", 3), c("between", [2, 4]), c("ne", 2), c("lt", 2),
    c("gt", 39), c("eq", 40), c("lte", 3), c("gte", 41), c("lt", 10**12),
]  # fmt: skip


# --- Against the evaluator ------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[f"{case['op']}-{case['value']}" for case in CASES])
def test_login_streak_selects_what_the_fixture_data_says(case, members):
    assert members(case) == expected(case)
    assert members({"not": case}) == EVERYONE - expected(case)


def test_login_streak_cases_are_not_vacuous():
    assert sum(0 < len(expected(case)) < len(PEOPLE) for case in CASES) >= 8


def test_the_streak_of_each_person_in_kolkata(members):
    assert settings.TIME_ZONE == "Asia/Kolkata"
    by_length = {n: members(c("eq", n)) for n in (0, 1, 2, 3, 4, 40)}

    assert by_length[0] == emails("lapsed", "never", "future")
    assert by_length[1] == emails("browser")
    assert by_length[2] == emails("edge", "gappy", "yesterday", "busy")
    assert by_length[3] == emails("midnight")
    assert by_length[4] == emails("mixed")
    assert by_length[40] == emails("loyal")


# --- The rules, one at a time ---------------------------------------------------------------


def test_days_are_local_calendar_days_across_midnight(members):
    # 00:15 today and 23:45 yesterday in Kolkata are 30 minutes apart but two days.
    assert "midnight@example.com" in members(c("eq", 3))
    assert "edge@example.com" in members(c("eq", 2))


def test_the_time_zone_setting_decides_where_a_day_ends(members, settings):
    settings.TIME_ZONE = "UTC"

    # In UTC, midnight's logins fall on 14 June (twice) and 13 June: two days ending
    # yesterday; edge's two logins are both on 14 June.
    assert members(c("eq", 2)) >= emails("midnight")
    assert members(c("eq", 1)) >= emails("edge")
    for case in CASES:
        assert members(case) == expected(case), case


def test_a_missed_day_ends_the_streak(members):
    assert "gappy@example.com" in members(c("eq", 2))  # today, yesterday, then a gap
    assert "gappy@example.com" not in members(c("gte", 3))


def test_several_logins_a_day_count_as_one_day(members):
    assert "busy@example.com" in members(c("eq", 2))


def test_sign_ins_here_and_platform_logins_make_one_streak(members):
    assert "mixed@example.com" in members(c("eq", 4))
    assert "loyal@example.com" in members(c("eq", 40))


def test_a_streak_ending_yesterday_counts_and_one_ending_two_days_ago_is_zero(members):
    assert "yesterday@example.com" in members(c("eq", 2))
    assert "lapsed@example.com" in members(c("eq", 0))
    assert "lapsed@example.com" not in members(c("gte", 1))


def test_logins_after_the_evaluation_time_and_other_events_do_not_count(members):
    assert "future@example.com" in members(c("eq", 0))
    assert "browser@example.com" in members(c("eq", 1))  # its views today are not logins


def test_someone_who_never_logged_in_has_a_streak_of_zero_not_no_value(members):
    assert "never@example.com" in members(c("eq", 0))
    assert "never@example.com" in members(c("lt", 1))
    assert "never@example.com" in members({"not": c("gte", 1)})


# --- In the catalogue and in combined trees -------------------------------------------------


def test_login_streak_is_an_engagement_count_of_days_without_a_window():
    definition = field_get(USER, "login_streak")

    assert definition.group == "engagement"
    assert definition.value_type == "integer"
    assert definition.unit == "days"
    assert definition.window == "none"
    assert set(definition.operators) == {"eq", "ne", "gt", "gte", "lt", "lte", "between"}


COMBINED = [
    {"all": [c("gte", 2), {"field": "country", "op": "eq", "value": "IN"}]},
    {"any": [c("eq", 0), {"all": [c("between", [3, 10]), {"not": {"field": "country", "op": "eq", "value": "in"}}]}]},
    {"not": {"any": [c("gte", 3), c("eq", 0)]}},
]


@pytest.mark.parametrize("tree", COMBINED, ids=[f"tree{n}" for n in range(len(COMBINED))])
def test_combined_trees_with_login_streak_stay_one_query(tree, members):
    selected = members(tree)  # members() counts exactly one query

    assert selected == expected(tree)
    assert 0 < len(selected) < len(PEOPLE)
    assert members({"not": tree}) == EVERYONE - selected
