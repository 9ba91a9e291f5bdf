"""A dataset's health from its run records (spec §5.6): recent statuses, success rate, staleness."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from opendata_core.api import HealthSummary, RunSummary

__all__ = ["FREQUENCY_PERIODS", "SCHEDULE_DISABLED_AFTER", "compute_health"]

FREQUENCY_PERIODS: Final[dict[str, timedelta]] = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=31),
    "quarterly": timedelta(days=92),
    "yearly": timedelta(days=366),
}
"""How long each ``frequency`` allows between publishes (``adhoc`` is never stale)."""

SCHEDULE_DISABLED_AFTER: Final = timedelta(days=60)
"""GitHub disables scheduled workflows after 60 days without repository activity."""


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def compute_health(
    runs: Sequence[RunSummary],
    *,
    frequency: str | None,
    published_at: datetime | None,
    now: datetime,
    grace: timedelta,
) -> HealthSummary:
    """Health from the most recent runs (newest first) and the current publish time.

    Example:
        >>> from datetime import UTC
        >>> now = datetime(2025, 3, 20, tzinfo=UTC)
        >>> published = datetime(2025, 3, 10, tzinfo=UTC)
        >>> h = compute_health([], frequency="daily", published_at=published, now=now,
        ...                    grace=timedelta(hours=48))
        >>> h.status, h.stale
        ('stale', True)
    """
    recent = [r.status for r in runs]
    successes = [r for r in runs if r.status == "success"]
    failures = [r for r in runs if r.status == "failure"]
    last_success = successes[0].finished_at if successes else None
    last_publish = max((t for t in (last_success, published_at) if t is not None), default=None)
    stale = False
    reason = None
    period = FREQUENCY_PERIODS.get(frequency or "")
    if period is not None and last_publish is not None and now - last_publish > period + grace:
        stale = True
        reason = (
            f"last successful publish {_ago(now - last_publish)} ago; a {frequency} dataset is "
            f"stale after {_ago(period + grace)}"
        )
        if runs and now - runs[0].finished_at > SCHEDULE_DISABLED_AFTER:
            reason += (
                f" — last run {_ago(now - runs[0].finished_at)} ago: the schedule may have been "
                "disabled (GitHub disables scheduled workflows after 60 days without activity)"
            )
    if runs and runs[0].status == "failure":
        status = "failing"
    elif stale:
        status = "stale"
    elif runs:
        status = "ok"
    else:
        status = "unknown"
    return HealthSummary(
        status=status,  # type: ignore[arg-type]
        stale=stale,
        stale_reason=reason,
        success_rate=len(successes) / len(runs) if runs else None,
        runs_considered=len(runs),
        recent=recent,
        last_run_at=runs[0].finished_at if runs else None,
        last_success_at=last_success,
        last_failure_class=failures[0].error_class if failures else None,
        last_failure_message=failures[0].message if failures else None,
    )
