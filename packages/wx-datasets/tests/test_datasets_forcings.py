"""Forcings against hand calculations and an independent solar-position algorithm.

The independent reference is the low-precision solar coordinates of the Astronomical Almanac
(also in Meeus, "Astronomical Algorithms", ch. 25), a different formulation from the Spencer
(1971) Fourier series that the module uses.
"""

from __future__ import annotations

import numpy as np
import pytest

from wx_datasets.forcings import FORCING_NAMES, compute_forcings, local_solar_time


def almanac_insolation(date: str, latitude: float, longitude: float) -> float:
    """TOA insolation / solar constant from the Astronomical Almanac's low-precision formulae."""
    when = np.datetime64(date, "s")
    n = (when - np.datetime64("2000-01-01T12:00:00", "s")).astype(float) / 86400.0
    mean_longitude = np.deg2rad((280.460 + 0.9856474 * n) % 360)
    anomaly = np.deg2rad((357.528 + 0.9856003 * n) % 360)
    ecliptic = mean_longitude + np.deg2rad(1.915 * np.sin(anomaly) + 0.020 * np.sin(2 * anomaly))
    obliquity = np.deg2rad(23.439 - 0.0000004 * n)
    declination = np.arcsin(np.sin(obliquity) * np.sin(ecliptic))
    right_ascension = np.arctan2(np.cos(obliquity) * np.sin(ecliptic), np.cos(ecliptic))
    equation_of_time = (mean_longitude - right_ascension + np.pi) % (2 * np.pi) - np.pi  # rad
    distance = 1.00014 - 0.01671 * np.cos(anomaly) - 0.00014 * np.cos(2 * anomaly)  # AU
    utc_hours = (when - when.astype("datetime64[D]")).astype(float) / 3600.0
    hour_angle = np.deg2rad(15 * (utc_hours - 12) + longitude) + equation_of_time
    phi = np.deg2rad(latitude)
    cos_zenith = np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.cos(
        hour_angle
    )
    return max(cos_zenith, 0.0) / distance**2


def one(name: str, date: str, latitude: float, longitude: float) -> float:
    values = compute_forcings(
        [name], np.array([date], dtype="datetime64[s]"), [latitude], [longitude]
    )
    assert values.shape == (1, 1, 1) and values.dtype == np.float32
    return float(values[0, 0, 0])


@pytest.mark.parametrize(
    ("date", "latitude", "longitude"),
    [
        ("2013-01-03T18:00", 20.0, -90.0),  # near perihelion, afternoon over Mexico
        ("2013-06-21T12:00", 51.5, 0.0),  # midsummer noon at Greenwich
        ("2014-03-20T06:00", -10.0, 100.0),  # equinox, Indonesia early afternoon
        ("2014-09-23T15:30", 60.0, -30.0),
        ("2016-12-31T23:00", -45.0, 170.0),  # leap year, New Zealand morning
    ],
)
def test_insolation_matches_almanac_algorithm(date, latitude, longitude):
    expected = almanac_insolation(date, latitude, longitude)
    assert expected > 0.1
    assert one("insolation", date, latitude, longitude) == pytest.approx(expected, abs=0.006)


def test_insolation_is_zero_at_night_and_in_polar_night():
    # Local midnight at 90°E is 18 UTC.
    assert one("insolation", "2013-05-01T18:00", 30.0, 90.0) == 0.0
    # North pole at the December solstice: the Sun stays below the horizon all day.
    hours = np.datetime64("2013-12-21T00", "s") + np.arange(24) * np.timedelta64(3600, "s")
    polar = compute_forcings(["insolation"], hours, [90.0, 80.0], [0.0, 45.0])
    assert polar.shape == (24, 1, 2)
    assert np.all(polar == 0.0)
    # ... while the South Pole is lit around the clock, at about sin(23.44°) times (r0/r)^2.
    south = compute_forcings(["insolation"], hours, [-90.0], [0.0])
    assert np.allclose(south, np.sin(np.deg2rad(23.44)) * 1.0333, atol=0.004)


def test_insolation_peaks_at_the_subsolar_point():
    latitudes, longitudes = np.meshgrid(
        np.arange(-90, 90.5, 0.5), np.arange(0, 360, 0.5), indexing="ij"
    )
    date = np.array(["2013-06-21T12:00"], dtype="datetime64[s]")
    values = compute_forcings(["insolation"], date, latitudes.ravel(), longitudes.ravel())[0, 0]
    peak = np.argmax(values)
    # Subsolar point at the June solstice, 12 UTC: declination 23.44°N, longitude where apparent
    # solar time is noon (equation of time about -1.8 min, i.e. 0.45° east of Greenwich).
    assert latitudes.ravel()[peak] == pytest.approx(23.44, abs=0.5)
    assert (longitudes.ravel()[peak] + 180) % 360 - 180 == pytest.approx(0.45, abs=0.5)
    # Near aphelion (early July) (r0/r)^2 is about 0.967.
    assert values[peak] == pytest.approx(0.968, abs=0.003)
    assert values.min() == 0.0 and values.max() <= 1.04


def test_local_time_at_known_longitudes():
    # 06 UTC at 90°E is local noon: angle π; at 90°W it is midnight: angle 0.
    noon = compute_forcings(
        ["cos_local_time", "sin_local_time"],
        np.array(["2013-01-01T06:00"], "datetime64[s]"),
        [0, 0],
        [90, -90],
    )
    assert noon[0, :, 0] == pytest.approx([-1.0, 0.0], abs=1e-6)
    assert noon[0, :, 1] == pytest.approx([1.0, 0.0], abs=1e-6)
    # 03 UTC at 45°E is 06 local: a quarter of the day, angle π/2.
    hours = local_solar_time(
        np.array(["2013-01-01T03:00"], "datetime64[s]"), np.array([45.0, 359.0])
    )
    assert hours[0] == pytest.approx([6.0, (3 + 359 / 15) % 24])


def test_julian_day_angles():
    dates = np.array(["2013-01-01T00", "2013-07-02T12", "2016-07-02T00"], dtype="datetime64[s]")
    values = compute_forcings(["cos_julian_day", "sin_julian_day"], dates, [10.0], [20.0])
    assert values[0, :, 0] == pytest.approx([1.0, 0.0], abs=1e-7)
    # 2013-07-02 12 UTC is 182.5 of 365 days: exactly half a year.
    assert values[1, :, 0] == pytest.approx([-1.0, 0.0], abs=1e-6)
    # 2016 is a leap year: 2016-07-02 00 UTC is 183 of 366 days, also half a year.
    assert values[2, :, 0] == pytest.approx([-1.0, 0.0], abs=1e-6)


def test_coordinate_forcings_and_shape():
    latitudes, longitudes = np.array([0.0, 30.0, -90.0]), np.array([0.0, 90.0, 180.0])
    dates = np.array(["2013-01-01", "2013-01-02"], dtype="datetime64[D]")
    values = compute_forcings(list(FORCING_NAMES), dates, latitudes, longitudes)
    assert values.shape == (2, len(FORCING_NAMES), 3) and values.dtype == np.float32
    named = dict(zip(FORCING_NAMES, values[1], strict=True))
    assert named["cos_latitude"] == pytest.approx([1.0, np.sqrt(3) / 2, 0.0], abs=1e-6)
    assert named["sin_latitude"] == pytest.approx([0.0, 0.5, -1.0], abs=1e-6)
    assert named["cos_longitude"] == pytest.approx([1.0, 0.0, -1.0], abs=1e-6)
    assert named["sin_longitude"] == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)


def test_bad_inputs_name_the_problem():
    dates = np.array(["2013-01-01"], dtype="datetime64[s]")
    with pytest.raises(ValueError, match=r"unknown forcing\(s\) \['solar_flux'\].*insolation"):
        compute_forcings(["solar_flux"], dates, [0.0], [0.0])
    with pytest.raises(ValueError, match="datetime64"):
        compute_forcings(["insolation"], np.array([1.0]), [0.0], [0.0])
    with pytest.raises(ValueError, match="equal shapes"):
        compute_forcings(["insolation"], dates, [0.0, 1.0], [0.0])
