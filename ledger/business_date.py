"""The business date: which day "today" is for the rules that depend on it (API.md "Conventions").

Windows, the year close and the range of years a notice may open are judged on the Beijing (UTC+8)
calendar date. A process started with `LEDGER_BUSINESS_DATE=YYYY-MM-DD` (drills, tests, replaying a
past year's close) runs on that date instead, for its whole life; `/healthz` then shows it and the
server warns at start, so a fixed date is never mistaken for the real one.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from typing import Mapping
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
BUSINESS_DATE_ENV = "LEDGER_BUSINESS_DATE"


class BusinessClock:
    """Today's Beijing date, or the date fixed for this process; `fixed` says which."""

    def __init__(self, fixed: date | None = None) -> None:
        self.fixed = fixed

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "BusinessClock":
        """The clock the environment asks for; a malformed date stops the process at start, not a request."""
        value = (os.environ if environ is None else environ).get(BUSINESS_DATE_ENV, "").strip()
        if not value:
            return cls()
        try:
            return cls(date.fromisoformat(value))
        except ValueError:
            raise SystemExit(f"{BUSINESS_DATE_ENV} must be a date YYYY-MM-DD, not {value!r}") from None

    def __call__(self) -> date:
        return self.fixed or datetime.now(CHINA).date()


def utc_now() -> datetime:
    """The instant (timezone-aware, UTC) for what expires by the wall clock, such as tokens; the application
    holds it beside the business-date clock, so a test can move it instead of sleeping."""
    return datetime.now(timezone.utc)
