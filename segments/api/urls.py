from rest_framework.routers import SimpleRouter

from segments.api import views

# The slash is optional: the routes read /segments/preview and /segments/{id}/refresh.
router = SimpleRouter()
router.trailing_slash = "/?"
router.register("segments", views.SegmentViewSet, basename="segment")

urlpatterns = router.urls
