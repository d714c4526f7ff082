from __future__ import annotations

import math
from decimal import Decimal

import pytest

from chalicelib.domain.geo import Location, distance_km, parse_near
from chalicelib.errors import ValidationFailed

MELUN = Location(48.5397, 2.6553)
FONTAINEBLEAU = Location(48.4047, 2.7016)


def test_melun_to_fontainebleau_is_about_15_4_km() -> None:
    assert distance_km(MELUN, FONTAINEBLEAU) == pytest.approx(15.4, abs=0.5)


def test_distance_is_symmetric_and_zero_to_itself() -> None:
    assert distance_km(MELUN, FONTAINEBLEAU) == pytest.approx(distance_km(FONTAINEBLEAU, MELUN))
    assert distance_km(MELUN, MELUN) == 0.0


def test_antipodes_are_half_the_circumference_apart() -> None:
    assert distance_km(Location(0, 0), Location(0, 180)) == pytest.approx(math.pi * 6371.0088)


def test_near_parses_latitude_then_longitude() -> None:
    assert parse_near("48.54,2.66") == Location(48.54, 2.66)
    assert parse_near(" -33.9 , 151.2 ") == Location(-33.9, 151.2)


@pytest.mark.parametrize(
    "text",
    ["", "48.54", "48.54,2.66,1", "abc,def", "nan,2", "inf,2", "1e1,2", "91,2", "48,181", "48;2"],
)
def test_bad_near_is_a_validation_error_on_near(text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_near(text)

    assert info.value.errors[0]["field"] == "near"


@pytest.mark.parametrize(
    ("lat", "lon", "field"), [(90.5, 0, "location.lat"), (0, -180.5, "location.lon")]
)
def test_out_of_range_location_is_a_validation_error(lat: float, lon: float, field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        Location(lat, lon)

    assert info.value.errors[0]["field"] == field


def test_location_accepts_dynamodb_decimals_as_floats() -> None:
    location = Location(Decimal("48.5397"), Decimal("2.6553"))  # type: ignore[arg-type]

    assert location.to_dict() == {"lat": 48.5397, "lon": 2.6553}


def test_location_refuses_non_numbers() -> None:
    with pytest.raises(ValidationFailed):
        Location(True, 2.0)
