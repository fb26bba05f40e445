import pytest
from django.contrib.auth.models import Group

from accounts.tests.factories import UserFactory
from console.groups import ANALYST, MARKETER


def _staff_in(group: str, email: str):
    user = UserFactory(email=email, is_staff=True)
    user.set_password("Staff-Password-1")
    user.save()
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def marketer(db):
    return _staff_in(MARKETER, "mira@example.com")


@pytest.fixture
def analyst(db):
    return _staff_in(ANALYST, "anil@example.com")


@pytest.fixture
def marketer_console(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def analyst_console(client, analyst):
    client.force_login(analyst)
    return client
