"""The ``shallow-water`` source: layout, reproducibility, and a clear error for each bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wx_datasets.shallow_water import model as model_module
from wx_datasets.shallow_water.errors import (
    MeanDepthError,
    ShallowWaterError,
    TimeStepError,
    TruncationError,
    UnknownFieldError,
)
from wx_datasets.shallow_water.options import OPTION_KEYS, parse_options
from wx_datasets.shallow_water.source import open_source

SMALL = {"truncation": 21, "spin_up_days": 2, "members": 2, "seed": 4}


def _dates(days: float, hours: int = 6) -> np.ndarray:
    start = np.datetime64("2000-01-01T00", "s")
    count = int(days * 24 / hours) + 1
    return start + np.arange(count) * np.timedelta64(hours, "h")


@pytest.fixture(scope="module")
def small():
    return open_source(
        {**SMALL, "fields": ["z", "h", "u", "v", "vorticity", "divergence"]}, dates=_dates(2)
    )


def test_layout_dims_dtypes_and_coordinates(small):
    assert dict(small.sizes) == {"time": 9, "member": 2, "latitude": 32, "longitude": 64}
    for name in ("z", "h", "u", "v", "vorticity", "divergence"):
        assert small[name].dims == ("time", "member", "latitude", "longitude")
        assert small[name].dtype == np.float32
        assert np.all(np.isfinite(small[name].values))
    for name in ("orography", "cos_latitude", "sin_latitude"):
        assert small[name].dims == ("latitude", "longitude")
        assert small[name].dtype == np.float32
    latitude = small["latitude"].values
    gauss = np.degrees(np.arcsin(np.polynomial.legendre.leggauss(32)[0]))[::-1]
    np.testing.assert_allclose(latitude, gauss, atol=1e-12)  # Gaussian, north to south
    np.testing.assert_allclose(small["longitude"].values, np.arange(64) * 5.625)
    assert small["time"].values[0] == np.datetime64("2000-01-01T00")
    assert small.attrs["grid"] == "gaussian" and small.attrs["truncation"] == 21
    assert json.loads(small.attrs["options"])["members"] == 2
    assert small["z"].attrs["units"] == "m2 s-2" and small["vorticity"].attrs["units"] == "s-1"
    np.testing.assert_allclose(
        small["cos_latitude"].values[:, 0], np.cos(np.radians(latitude)), rtol=1e-6
    )


def test_fields_are_consistent(small):
    """z = g h; the members differ; the flow is atmosphere-like (tens of m/s, ~8 km deep)."""
    np.testing.assert_allclose(small["z"].values, 9.80616 * small["h"].values, rtol=1e-6)
    assert not np.array_equal(small["u"].values[:, 0], small["u"].values[:, 1])
    speed = np.hypot(small["u"].values, small["v"].values)
    assert 20.0 < speed.max() < 120.0
    assert 7000.0 < float(small["h"].mean()) < 9000.0
    orography = small["orography"].values
    assert orography.max() > 1000.0 and orography.min() > -100.0  # random mountains
    # the divergent part stays small: a balanced, Rossby-wave dominated flow
    assert np.abs(small["divergence"]).mean() < 0.2 * np.abs(small["vorticity"]).mean()


def test_same_seed_same_bytes_different_seed_different():
    options = {"truncation": 21, "spin_up_days": 1, "fields": ["z", "vorticity"]}
    dates = _dates(1)
    first = open_source({**options, "seed": 1}, dates=dates)
    again = open_source({**options, "seed": 1}, dates=dates)
    other = open_source({**options, "seed": 2}, dates=dates)
    for name in ("z", "vorticity", "orography"):
        assert first[name].values.tobytes() == again[name].values.tobytes()
    assert not np.allclose(first["vorticity"].values, other["vorticity"].values)
    assert not np.allclose(first["orography"].values, other["orography"].values)


def test_samples_follow_the_dates_and_spin_up():
    """Dates only set the spacing: the trajectory at dates[k] is spin-up + k * spacing."""
    options = {"truncation": 21, "fields": ["vorticity"], "constants": [], "seed": 3}
    six_hourly = open_source({**options, "spin_up_days": 1.0}, dates=_dates(1))
    later_start = open_source(
        {**options, "spin_up_days": 1.5}, dates=_dates(0.5) + np.timedelta64(30, "D")
    )
    # the default T21 time step (1 h) divides 6 h and both spin-ups: the states coincide exactly
    np.testing.assert_array_equal(
        six_hourly["vorticity"].values[2:], later_start["vorticity"].values
    )


def test_constants_and_fields_are_chosen_by_the_options():
    dataset = open_source(
        {
            "truncation": 21,
            "spin_up_days": 0,
            "fields": ["u"],
            "constants": ["cos_longitude", "sin_longitude"],
            "orography": "none",
            "forcing": False,
        },
        dates=_dates(0.25),
    )
    assert sorted(dataset.data_vars) == ["cos_longitude", "sin_longitude", "u"]
    np.testing.assert_allclose(
        dataset["sin_longitude"].values[0],
        np.sin(np.radians(dataset["longitude"].values)),
        atol=1e-6,
    )


def test_isolated_mountain_orography():
    dataset = open_source(
        {"truncation": 21, "spin_up_days": 0, "orography": "mountain", "fields": ["h"]},
        dates=_dates(0.25),
    )
    orography = dataset["orography"]
    peak = orography.where(orography == orography.max(), drop=True)
    assert float(orography.max()) > 1500.0
    assert (
        abs(float(peak["latitude"][0]) - 30.0) < 6.0
        and abs(float(peak["longitude"][0]) - 270.0) < 6.0
    )


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"truncation": 42, "nlat": 32, "nlon": 64},
            TruncationError,
            r"shallow-water\.truncation: .*nlat >= ",
        ),
        (
            {"truncation": 21, "nlon": 60},
            TruncationError,
            r"shallow-water\.truncation: .*nlon >= 3T\+1 = 64",
        ),
        (
            {"truncation": "T42"},
            ShallowWaterError,
            r"shallow-water\.truncation: 'T42'; expected an integer",
        ),
        (
            {"mean_depth": 0},
            MeanDepthError,
            r"shallow-water\.mean_depth: 0\.0 m; expected a positive depth",
        ),
        ({"mean_depth": -100.0}, MeanDepthError, r"shallow-water\.mean_depth: -100.0"),
        (
            {"fields": ["z", "q"]},
            UnknownFieldError,
            r"shallow-water\.fields: unknown name\(s\) 'q'",
        ),
        (
            {"constants": ["land_sea_mask"]},
            UnknownFieldError,
            r"shallow-water\.constants: .*'land_sea_mask'",
        ),
        (
            {"fields": ["z", "z"]},
            ShallowWaterError,
            r"shallow-water\.fields: .* names a field twice",
        ),
        (
            {"orography": "alps"},
            ShallowWaterError,
            r"shallow-water\.orography: 'alps'; expected one of",
        ),
        ({"members": 0}, ShallowWaterError, r"shallow-water\.members: 0; expected an integer >= 1"),
        ({"time_step": "soon"}, TimeStepError, r"shallow-water\.time_step: frequency 'soon'"),
        (
            {"diffusion_order": 6},
            ShallowWaterError,
            r"shallow-water\.diffusion_order: 6; expected one of 4, 8",
        ),
        ({"truncaton": 42}, ShallowWaterError, r"shallow-water: unknown option\(s\) truncaton"),
        (
            {"type": "netcdf"},
            ShallowWaterError,
            r"shallow-water\.type: 'netcdf'; expected 'shallow-water'",
        ),
    ],
)
def test_bad_options_name_their_key(options, error, message):
    with pytest.raises(error, match=message):
        parse_options(options)


def test_unknown_field_is_a_key_error_with_a_readable_message():
    with pytest.raises(KeyError) as caught:
        parse_options({"fields": ["pv"]})
    assert str(caught.value).startswith("shallow-water.fields: unknown name(s) 'pv'")


def test_unstable_time_step_is_refused_before_running(monkeypatch):
    def no_integration(self, steps):
        raise AssertionError("the model ran before the time step was checked")

    monkeypatch.setattr(model_module.Trajectory, "advance", no_integration)
    with pytest.raises(
        TimeStepError, match=r"shallow-water\.time_step: .*Courant number .* use a time step below"
    ):
        open_source({"truncation": 21, "time_step": "6h"}, dates=_dates(1))


def test_time_step_must_divide_the_date_spacing():
    with pytest.raises(
        TimeStepError, match=r"shallow-water\.time_step: 2500 s does not divide .* 21600 s"
    ):
        open_source({"truncation": 21, "time_step": 2500}, dates=_dates(1))


def test_too_shallow_a_layer_over_mountains_is_refused(monkeypatch):
    monkeypatch.setattr(model_module.Trajectory, "advance", lambda self, steps: None)
    with pytest.raises(MeanDepthError, match=r"shallow-water\.mean_depth: .*fluid depth down to"):
        open_source(
            {"truncation": 21, "mean_depth": 1000.0, "orography_height": 3000}, dates=_dates(1)
        )


def test_dates_must_increase():
    dates = _dates(1)[::-1]
    with pytest.raises(ShallowWaterError, match="dates must be strictly increasing"):
        open_source({"truncation": 21}, dates=dates)


def test_option_keys_are_published_for_the_recipe_layer():
    assert {"truncation", "members", "seed", "fields", "constants", "spin_up_days"} <= set(
        OPTION_KEYS
    )
