"""The network's own time zone.

Relays carry their own IANA zone for opening hours and slots; everything the network does
as one legal calendar — membership periods, invoice and service dates, company months, FEC
validation dates, Stripe payout days — is dated in Paris.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

PARIS_ZONE_NAME = "Europe/Paris"
PARIS = ZoneInfo(PARIS_ZONE_NAME)
