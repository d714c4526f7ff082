"""Coordinates and great-circle distances (pure)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.errors import ValidationFailed

# Mean Earth radius (IUGG); distances between relays are a few km, so the sphere is plenty.
EARTH_RADIUS_KM = 6371.0088

_NUMBER = r"[+-]?[0-9]+(?:\.[0-9]+)?"
# float() alone would also take "nan", "inf", "1e3" and "1_0".
_NEAR_RE = re.compile(rf"\s*({_NUMBER})\s*,\s*({_NUMBER})\s*")


def _coordinate(value: object, low: float, high: float, field: str) -> float:
    # DynamoDB hands numbers back as Decimal; bool is an int subclass but never a coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationFailed("must be a number", field=field)
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValidationFailed(f"must be between {low:g} and {high:g}", field=field)
    return number


@dataclass(frozen=True)
class Location:
    """A WGS 84 point in decimal degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lat", _coordinate(self.lat, -90.0, 90.0, "location.lat"))
        object.__setattr__(self, "lon", _coordinate(self.lon, -180.0, 180.0, "location.lon"))

    def to_dict(self) -> dict[str, float]:
        return {"lat": self.lat, "lon": self.lon}


def parse_near(text: str, field: str = "near") -> Location:
    """``"48.54,2.66"`` (latitude, longitude) -> Location."""
    match = _NEAR_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationFailed('must be "lat,lon" in decimal degrees, e.g. "48.54,2.66"', field)
    try:
        return Location(float(match.group(1)), float(match.group(2)))
    except ValidationFailed as exc:
        raise ValidationFailed(exc.detail, field=field) from exc


def distance_km(a: Location, b: Location) -> float:
    """Great-circle distance (haversine); the caller rounds for display."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    # min() guards asin against rounding just above 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
