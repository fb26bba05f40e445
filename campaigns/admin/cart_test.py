"""The "Test a cart" page: a cart judged against every live campaign together, stacking as the
evaluate API does (``cart_evaluate`` without ``only``), told in a marketer's words. Products are
picked by name or sku, a customer by email, and a unique-code campaign lends a sample code.

Nothing is written: whoever may see campaigns (an Analyst too) may test carts. The page is a
button on the campaign list; "Test this campaign" on a campaign keeps judging it alone.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.decorators import action

from campaigns.admin.cart_test_form import CartLineFormSet, CartTestForm
from campaigns.cart_report import cart_report
from campaigns.evaluation import cart_evaluate
from campaigns.models import Campaign, CodeType
from campaigns.selectors import products_search, sample_code
from lms.errors import DomainError


class CartTestPages:
    """A mixin for ``CampaignAdmin``: the page (a list action) and its two JSON helpers."""

    actions_list = ("test_cart",)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("test-cart/products/", view(self.cart_products_view), name="campaigns_campaign_cart_products"),
            path(
                "test-cart/sample-code/<int:campaign_id>/",
                view(self.cart_sample_code_view),
                name="campaigns_campaign_cart_sample_code",
            ),
            *super().get_urls(),
        ]

    def _may_test(self, request: HttpRequest) -> None:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied

    @action(
        description="Test a cart",
        url_path="test-cart",
        icon="shopping_cart",
        permissions=["view_or_change"],
        attrs={"data-testid": "cart-test-open"},
    )
    def test_cart(self, request: HttpRequest):
        """Every live campaign on one cart (name: admin:campaigns_campaign_test_cart)."""
        self._may_test(request)
        posted = request.method == "POST"
        form = CartTestForm(request.POST if posted else None, initial={"currency": "INR"})
        lines = CartLineFormSet(request.POST if posted else None, prefix="line")
        report = None
        if posted and form.is_valid() and lines.is_valid():
            try:
                evaluation = cart_evaluate(form.cart_request_for(lines.lines), explain=True)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                report = cart_report(evaluation)
        context = {
            **self.admin_site.each_context(request),
            "title": "Test a cart",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "lines": lines,
            "report": report,
            "customer": form.customer_user,
            "coded_campaigns": _unique_code_campaigns(),
            "products_url": reverse("admin:campaigns_campaign_cart_products"),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/cart_test.html", context)

    def cart_products_view(self, request: HttpRequest) -> JsonResponse:
        """Products for the picker: ``?q=`` part of a name or the start of a sku."""
        self._may_test(request)
        return JsonResponse(
            {
                "results": [
                    {**row, "price": str(row["price"])} for row in products_search(request.GET.get("q", "")[:100])
                ]
            }
        )

    def cart_sample_code_view(self, request: HttpRequest, campaign_id: int) -> JsonResponse:
        """An unused code of the campaign given to nobody, or a message saying there is none."""
        self._may_test(request)
        code = sample_code(campaign_id)
        if code is None:
            return JsonResponse(
                {"code": None, "message": "This campaign has no unused code left that is not given to a customer."},
                status=404,
            )
        return JsonResponse({"code": code})


def _unique_code_campaigns() -> list[Campaign]:
    """Live coupon campaigns with unique codes: each gets a "fill a sample code" button."""
    return list(
        Campaign.objects.discounts()
        .active(dt.datetime.now(dt.UTC))
        .filter(code_type=CodeType.UNIQUE)
        .order_by("-priority", "id")
        .only("id", "name")[:50]
    )
