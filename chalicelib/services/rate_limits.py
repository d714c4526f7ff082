"""Per-member limit on writes (bookings, purchases, memberships): a fixed window.

`MEMBER_WRITES_PER_WINDOW` writes per `MEMBER_WRITE_WINDOW_SECONDS`; the next one is
refused with 429 `rate_limited` and `Retry-After` = the seconds until the window ends.
A limit of 0 turns it off (the default locally; the stages set it, infra/stages.json).
Idempotent replays never reach it: they are answered before the route runs.
"""

from __future__ import annotations

import math

from chalicelib.adapters import keys
from chalicelib.auth import Principal
from chalicelib.errors import RateLimited
from chalicelib.services.context import Context


def check_member_writes(ctx: Context, principal: Principal) -> None:
    """Count this write of `principal`; RateLimited when the window's writes are used up."""
    limit = ctx.settings.member_writes_per_window
    if limit <= 0:
        return
    window = ctx.settings.member_write_window_seconds
    now = ctx.clock.now().timestamp()
    start = int(now // window * window)
    if not ctx.rate_limits.hit(keys.member_pk(principal.sub), start, window, limit):
        retry_after = max(1, math.ceil(start + window - now))
        raise RateLimited(
            f"At most {limit} writes per {window} s; retry in {retry_after} s.",
            retry_after=retry_after,
        )
