"""Requests to the campaigns API that a schema fuzzer (schemathesis + hand-made probes) found
answering a 500 or a broken response. Each test is the minimal reproduction of one finding."""

import pytest

from campaigns.tests.factories import CampaignFactory, CouponCodeFactory
from lms.testing import assert_error

pytestmark = pytest.mark.django_db


def test_codes_export_refuses_a_nul_in_batch_with_a_400_before_streaming(admin_client):
    # Today: 200 and the CSV headers go out, then PostgreSQL refuses the NUL in the filter
    # (DataError) while the body streams, and the client sees a truncated chunked response.
    code = CouponCodeFactory(batch="b1")

    response = admin_client.get(f"/api/v1/campaigns/discounts/{code.campaign_id}/codes/export/", {"batch": "a\x00b"})

    assert not response.streaming, "answered 200 with a CSV stream that dies on the NUL (DataError) mid-body"
    assert_error(response, 400, "validation_error")


def test_options_on_codes_import_describes_the_endpoint_instead_of_a_500(admin_client):
    # Today: DRF's metadata asks the view for its serializer_class, which the import view
    # lacks, and the AssertionError becomes a 500.
    admin_client.raise_request_exception = False
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE")

    response = admin_client.options(f"/api/v1/campaigns/discounts/{campaign.pk}/codes/import/")

    assert response.status_code == 200, response.content
    assert response.json()["name"]
