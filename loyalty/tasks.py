from celery import shared_task


@shared_task
def points_expire_task() -> dict[str, int]:
    """Daily: expire every lot past its date (safe to re-run; batches of accounts)."""
    from loyalty.services.upkeep import points_expire

    report = points_expire()
    return {"accounts": report.accounts, "lots": report.lots, "points": report.points}


@shared_task
def tiers_reevaluate_task() -> dict[str, int]:
    """Daily: every account's tier from its current measure (spend leaves the window, reversals)."""
    from loyalty.services.tiers import tiers_reevaluate

    return tiers_reevaluate()


@shared_task
def points_expiring_notify_task() -> int:
    """Daily: remind members of points expiring soon (one message per program per day)."""
    from loyalty.services.messages import points_expiring_notify

    return points_expiring_notify()
