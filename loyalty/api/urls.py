from django.urls import re_path
from rest_framework.routers import SimpleRouter

from loyalty.api import views

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("loyalty/programs", views.ProgramViewSet, basename="loyalty-program")

urlpatterns = [
    re_path(r"^loyalty/me/?$", views.MeView.as_view(), name="loyalty-me"),
    re_path(r"^loyalty/me/transactions/?$", views.MyTransactionsView.as_view(), name="loyalty-me-transactions"),
    re_path(r"^loyalty/redeem/?$", views.RedeemView.as_view(), name="loyalty-redeem"),
    re_path(
        r"^loyalty/accounts/(?P<customer>[^/\x00]{1,254})/adjust/?$", views.AdjustView.as_view(), name="loyalty-adjust"
    ),
    re_path(
        r"^loyalty/accounts/(?P<customer>[^/\x00]{1,254})/transactions/?$",
        views.CustomerTransactionsView.as_view(),
        name="loyalty-customer-transactions",
    ),
    *router.urls,
]
