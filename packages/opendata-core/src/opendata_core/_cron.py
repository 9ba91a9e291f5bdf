"""Cron schedules as GitHub Actions accepts them (the ``schedule`` field)."""

from __future__ import annotations

from typing import Final

_COLUMN_MAX: Final = 255
_MONTHS: Final = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()  # noqa: SIM905
_DAYS: Final = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_CRON_FIELDS: Final[tuple[tuple[str, int, int, dict[str, int]], ...]] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {m: i + 1 for i, m in enumerate(_MONTHS)},
    ),
    ("day of week", 0, 6, {d: i for i, d in enumerate(_DAYS)}),
)


def check_cron(expr: str) -> str | None:
    """Why ``expr`` is not a usable five-field cron schedule, or ``None`` when it is."""
    fields = expr.split()
    if len(fields) != 5:
        return (
            f"{expr!r} has {len(fields)} fields; "
            "a cron schedule has 5 (minute hour day month weekday)"
        )
    for text, (name, lo, hi, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f"{expr!r}: bad step {step!r} in the {name} field"
            if base == "*":
                continue
            for bound in base.split("-", 1):
                num = names.get(bound.upper()) if not bound.isdigit() else int(bound)
                if num is None or not (lo <= num <= hi or (name == "day of week" and num == 7)):
                    return f"{expr!r}: {bound!r} is not a valid {name} ({lo}-{hi})"
    minute = fields[0]
    if minute == "*" or (minute.startswith("*/") and minute[2:].isdigit() and int(minute[2:]) < 5):
        return f"{expr!r} runs more often than every 5 minutes, which GitHub Actions does not allow"
    return None
