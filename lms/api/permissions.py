"""Role permissions.

A person with role ADMIN (superusers always are) manages campaigns, programs, segments and
promotions. A staff user without that role may do what their Django model permissions allow,
so a marketer's console permissions carry over to the API. Everyone else sees only their own
data (enforced by the views' querysets).
"""

from rest_framework.permissions import BasePermission, DjangoModelPermissions


def is_admin_role(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and getattr(user, "is_admin_role", False))


class IsAdminRole(BasePermission):
    message = "This route is for administrators (role ADMIN)."

    def has_permission(self, request, view) -> bool:
        return is_admin_role(request.user)


class IsAdminOrModelPermission(DjangoModelPermissions):
    """ADMIN role, or a staff user holding the model permission for the request's method."""

    message = "This route needs role ADMIN or the matching model permission."
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if is_admin_role(request.user):
            return True
        if not (request.user and request.user.is_authenticated and request.user.is_staff):
            return False
        return super().has_permission(request, view)
