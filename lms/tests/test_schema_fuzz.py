"""Schemathesis over the whole OpenAPI schema, in-process against the WSGI app, on PostgreSQL.

As ADMIN, as a customer (USER) and with the integration key, every operation gets the schema's
own examples, then valid and invalid requests (path parameters often real ids of the seeded
world), and every answer must be no 5xx, a documented status, a documented content type and a
body that fits its schema. 429 stays an allowed answer, but throttles are raised so the run is not 429s.

The default budget keeps ``make test`` quick; ``FUZZ_EXAMPLES=500`` runs a large one.
Derandomized: the same code gives the same requests, so a failure here reproduces.
"""

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.tests.factories import CampaignFactory
from lms.testing import assert_error

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Throttled is always an acceptable answer, documented or not: a proof must not demand that a
# limit be lifted, only that it answers in the error shape.
THROTTLED = 429


def _strategy(operation, known: list[dict[str, str]]):
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    generated = [operation.as_strategy(generation_mode=mode) for mode in modes]
    real = [operation.as_strategy(generation_mode=mode, path_parameters=values) for values in known for mode in modes]
    return st.one_of(*generated, *real)


def _fuzz(operation, strategy, headers: dict[str, str], examples: int) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case) -> None:
        response = case.call(headers=headers)
        if response.status_code == THROTTLED:
            assert response.headers.get("retry-after"), f"{operation.label}: 429 without Retry-After"
            case.validate_response(response, checks=[content_type_conformance])
            return
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def _describe(error: BaseException) -> str:
    """The failure, with what is inside Hypothesis' flaky-replay group: a write that failed once
    may answer differently when Hypothesis replays it (Schemathesis' own group says it all)."""
    if isinstance(error, BaseExceptionGroup) and not isinstance(error, schemathesis.errors.FailureGroup):
        return f"{error}\n" + "\n".join(_describe(inner) for inner in error.exceptions)
    return str(error)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120 + 4 * EXAMPLES)  # about 2 s per example per identity on a shared 2-core machine
@pytest.mark.parametrize("identity", ["admin", "user", "integration"])
def test_every_operation_answers_within_its_schema(identity, api_world, unthrottled):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    headers = api_world.headers_for(identity)
    failures, unknown = [], []

    for result in schema.get_all_operations():
        operation = result.ok()
        has_path_parameters = "{" in operation.path
        if has_path_parameters and operation.path not in api_world.path_values:
            unknown.append(operation.path)
            continue
        strategy = _strategy(operation, api_world.path_values.get(operation.path, []))
        try:
            # The schema's own examples (what Swagger offers to send) once each, then generated requests.
            for example in schema.get_strategies_from_examples(operation):
                _fuzz(operation, example, headers, examples=1)
            _fuzz(operation, strategy, headers, examples=EXAMPLES)
        except (Exception, BaseExceptionGroup) as error:  # every operation's failure is collected, then reported
            failures.append(f"{operation.label}:\n{_describe(error)}")

    assert not unknown, f"Give real path parameters for {unknown} in api_world.path_values (lms/tests/conftest.py)."
    assert not failures, f"{len(failures)} operation(s) failed as {identity}:\n\n" + "\n\n".join(failures)


@pytest.mark.django_db
def test_a_code_import_without_a_content_type_is_a_documented_415(admin_client):
    # Schemathesis' invalid multipart bodies reach the server without a Content-Type.
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE")
    operation = admin_client.get("/api/schema/?format=json").json()["paths"][
        "/api/v1/campaigns/discounts/{id}/codes/import/"
    ]

    response = admin_client.generic(
        "POST", f"/api/v1/campaigns/discounts/{campaign.pk}/codes/import/", b"Malhotra", content_type=""
    )

    assert_error(response, 415, "unsupported_media_type")
    assert "415" in operation["post"]["responses"]
