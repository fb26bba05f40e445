from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from lms.api.seed_routes import seed_urlpatterns
from lms.health import LivenessView, ReadinessView
from lms.metrics import metrics_view
from lms.views import api_fallback, favicon

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("commerce.api.urls")),
    path("", include("segments.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("loyalty.api.urls")),
    path("", include("promotions.api.urls")),
    path("", include("notifications.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # Probes: liveness touches nothing outside the process; readiness checks the dependencies.
    path("healthz", LivenessView.as_view(), name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    # Prometheus scrapes (404 unless METRICS_ENABLED).
    path("metrics", metrics_view, name="metrics"),
    # Links inside notifications: the tracked call to action and the one-click unsubscribe.
    path("", include("notifications.urls")),
    *seed_urlpatterns(api_v1),
    # Last: every other /api/ path (the other spelling of a route's slash, or a JSON 404).
    re_path(r"^api/(?P<rest>.*)$", api_fallback, name="api-fallback"),
]

handler400 = "lms.api.exceptions.bad_request"
handler403 = "lms.api.exceptions.permission_denied"
handler404 = "lms.api.exceptions.page_not_found"
handler500 = "lms.api.exceptions.server_error"

admin.site.site_header = "LMS console"
admin.site.site_title = "LMS console"
admin.site.index_title = "Dashboard"
