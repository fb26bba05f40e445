from django.urls import path, re_path

from notifications.api import views

messages = views.MessageViewSet

urlpatterns = [
    path("notifications/", views.InboxView.as_view(), name="notification-list"),
    path("notifications/<int:pk>/read", views.InboxReadView.as_view(), name="notification-read"),
    path("notifications/read-all", views.InboxReadAllView.as_view(), name="notification-read-all"),
    path("notifications/preferences", views.PreferencesView.as_view(), name="notification-preferences"),
    path("notifications/devices", views.DevicesView.as_view(), name="notification-devices"),
    # A device by id or token (FCM and APNs tokens have no "/"; a web-push endpoint: by id).
    re_path(r"^notifications/devices/(?P<device>[^/]+)$", views.DeviceDetailView.as_view(), name="notification-device"),
    path("notifications/deliveries/", views.DeliveryListView.as_view(), name="notification-delivery-list"),
    path("notifications/deliveries/retry", views.DeliveryRetryView.as_view(), name="notification-delivery-retry"),
    path("notifications/messages/", messages.as_view({"get": "list"}), name="notification-message-list"),
    path(
        "notifications/messages/<int:pk>/",
        messages.as_view({"get": "retrieve"}),
        name="notification-message-detail",
    ),
    path("notifications/test", views.TestSendView.as_view(), name="notification-test"),
]
