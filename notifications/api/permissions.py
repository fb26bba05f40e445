from rest_framework.permissions import BasePermission

from lms.api.permissions import is_admin_role


def admin_or(permission: str) -> type[BasePermission]:
    """ADMIN role, or a staff user holding ``permission`` (``app_label.codename``): the console's
    permissions carry over to the API, as for campaigns and segments."""

    class AdminOrPermission(BasePermission):
        message = f"This route needs role ADMIN or the {permission} permission."

        def has_permission(self, request, view) -> bool:
            user = request.user
            if is_admin_role(user):
                return True
            return bool(
                user and user.is_authenticated and user.is_active and user.is_staff and user.has_perm(permission)
            )

    AdminOrPermission.__name__ = f"AdminOr_{permission.replace('.', '_')}"
    return AdminOrPermission


CanViewDeliveries = admin_or("notifications.view_delivery")
CanRetryDeliveries = admin_or("notifications.change_delivery")
CanViewMessages = admin_or("notifications.view_message")
CanTestSend = admin_or("notifications.add_message")
