from django.urls import re_path
from rest_framework.routers import SimpleRouter

from campaigns.api import announcements, codes, offers, simulation, views

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("campaigns/discounts", views.DiscountCampaignViewSet, basename="campaign-discount")
router.register("campaigns", views.CampaignViewSet, basename="campaign")

urlpatterns = [
    re_path(r"^cart/evaluate/?$", views.CartEvaluateView.as_view(), name="cart-evaluate"),
    re_path(r"^redemptions/?$", views.RedemptionCreateView.as_view(), name="redemption-create"),
    re_path(
        r"^redemptions/(?P<order_id>[^/\x00]+)/void/?$", views.RedemptionVoidView.as_view(), name="redemption-void"
    ),
    re_path(r"^redemptions/(?P<order_id>[^/\x00]+)/?$", views.RedemptionDetailView.as_view(), name="redemption-detail"),
    *codes.urlpatterns,
    *offers.urlpatterns,
    *announcements.urlpatterns,
    *simulation.urlpatterns,
    *router.urls,
]
