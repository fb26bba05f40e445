"""lms.snapshots: a copy per process, rebuilt when its shared version or this process's
generation moves, after its time to live, and (where asked) whenever the cache is down."""

import datetime as dt

import pytest
from django.core.cache import cache

from lms.snapshots import ProcessCopy, SharedVersion

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=60)


@pytest.fixture
def version():
    shared = SharedVersion("lms-test:snapshots:version")
    cache.delete(shared.key)
    yield shared
    cache.delete(shared.key)


def copy_of(version: SharedVersion, **options) -> tuple[ProcessCopy, list]:
    builds: list = []

    def build(tag, now):
        builds.append((tag, now))
        return len(builds)

    return ProcessCopy(version, TTL, build, **options), builds


def test_a_copy_is_kept_while_its_version_stays_and_rebuilt_after_its_time_to_live(version):
    copy, builds = copy_of(version)

    assert copy.get(NOW) == copy.get(NOW + TTL / 2) == 1
    assert copy.get(NOW + TTL) == 2
    assert len(builds) == 2 and builds[0][0] == version.read()


@pytest.mark.django_db(transaction=True)
def test_a_bump_moves_the_version_and_every_copy_is_rebuilt(version):
    copy, builds = copy_of(version)
    before = version.read()
    copy.get(NOW)

    version.bump()

    assert version.read() != before
    assert copy.get(NOW) == 2


def test_a_version_read_elsewhere_in_the_same_round_trip_is_used_as_given(version):
    copy, builds = copy_of(version)

    copy.get(NOW, "given")

    assert builds == [("given", NOW)]
    assert copy.get(NOW, "given") == 1 and copy.get(NOW, "other") == 2


class Unreachable(SharedVersion):
    """What ``read`` answers with the cache down (lms.cache fails soft: a miss, a dropped add)."""

    def read(self) -> None:
        return None


def test_with_the_cache_down_the_writers_own_generation_still_rebuilds_its_copy():
    version = Unreachable("lms-test:snapshots:down")
    copy, _ = copy_of(version)
    assert copy.get(NOW) == 1 and copy.get(NOW) == 1  # no version: kept for its time to live

    version.generation += 1  # what bump() does beside the version the cache cannot take

    assert copy.get(NOW, None) == 2


def test_a_copy_that_must_not_outlive_an_unannounced_change_is_rebuilt_while_the_cache_is_down():
    copy, _ = copy_of(Unreachable("lms-test:snapshots:down"), reuse_without_version=False)

    assert [copy.get(NOW), copy.get(NOW)] == [1, 2]
    assert copy.get(NOW, "v1") == 3 and copy.get(NOW, "v1") == 3
