import ipaddress

from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """The caller's address as the throttles see it (honours NUM_PROXIES for X-Forwarded-For);
    None when what arrived is not an address (a forged header must not break a write)."""
    candidate = (BaseThrottle().get_ident(request) or "").split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:256]
