"""Links inside notifications (not API routes): the tracked call to action and the one-click
unsubscribe, both authorised by their signed token alone."""

from django.urls import path

from notifications import views

urlpatterns = [
    path("n/c/<str:token>", views.click, name="notification-click"),
    path("n/u/<str:token>", views.unsubscribe, name="notification-unsubscribe"),
]
