from django.urls import path
from rest_framework.routers import SimpleRouter

from commerce.api import views

router = SimpleRouter()
router.register("commerce/products", views.ProductViewSet, basename="commerce-product")
router.register("commerce/orders", views.OrderViewSet, basename="commerce-order")

# The bulk routes come first: "bulk" would otherwise read as a sku or an order external_id.
urlpatterns = [
    path("commerce/products/bulk", views.ProductsBulkView.as_view(), name="commerce-products-bulk"),
    path("commerce/customers/bulk", views.CustomersBulkView.as_view(), name="commerce-customers-bulk"),
    path("commerce/orders/bulk", views.OrdersBulkView.as_view(), name="commerce-orders-bulk"),
    path("commerce/events/", views.EventsView.as_view(), name="commerce-events"),
    *router.urls,
]
