from rest_framework.routers import SimpleRouter

from promotions.api import views

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("promotions", views.PromotionViewSet, basename="promotion")

urlpatterns = router.urls
