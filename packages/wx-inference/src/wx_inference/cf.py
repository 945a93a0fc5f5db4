"""CF attributes of forecast variables and coordinates (CF conventions 1.10).

Standard names come from the CF standard name table (version 84) for the ECMWF/GRIB short names
and the common reanalysis names wx datasets use; a pressure-level variable ``<param>_<level>``
takes its parameter's name and gets its level in the long name. Units come from the checkpoint's
variable metadata where it has them (they are the training data's units), else from this table.
"""

from __future__ import annotations

import re
from typing import Any

CONVENTIONS = "CF-1.10"

# short name -> (standard_name, canonical units, long name)
STANDARD_NAMES: dict[str, tuple[str, str, str]] = {
    "t": ("air_temperature", "K", "temperature"),
    "air": ("air_temperature", "K", "air temperature"),
    "2t": ("air_temperature", "K", "2 metre temperature"),
    "t2m": ("air_temperature", "K", "2 metre temperature"),
    "z": ("geopotential", "m2 s-2", "geopotential"),
    "gh": ("geopotential_height", "m", "geopotential height"),
    "u": ("eastward_wind", "m s-1", "eastward wind"),
    "v": ("northward_wind", "m s-1", "northward wind"),
    "10u": ("eastward_wind", "m s-1", "10 metre eastward wind"),
    "10v": ("northward_wind", "m s-1", "10 metre northward wind"),
    "u10": ("eastward_wind", "m s-1", "10 metre eastward wind"),
    "v10": ("northward_wind", "m s-1", "10 metre northward wind"),
    "w": ("lagrangian_tendency_of_air_pressure", "Pa s-1", "vertical velocity"),
    "q": ("specific_humidity", "1", "specific humidity"),
    "r": ("relative_humidity", "%", "relative humidity"),
    "msl": ("air_pressure_at_mean_sea_level", "Pa", "mean sea level pressure"),
    "prmsl": ("air_pressure_at_mean_sea_level", "Pa", "mean sea level pressure"),
    "sp": ("surface_air_pressure", "Pa", "surface pressure"),
    "tp": ("precipitation_amount", "kg m-2", "total precipitation"),
    "tcw": ("atmosphere_mass_content_of_water", "kg m-2", "total column water"),
    "skt": ("surface_temperature", "K", "skin temperature"),
    "sst": ("sea_surface_temperature", "K", "sea surface temperature"),
    "lsm": ("land_binary_mask", "1", "land-sea mask"),
    "orog": ("surface_altitude", "m", "orography"),
    "2d": ("dew_point_temperature", "K", "2 metre dewpoint temperature"),
}

_LEVEL = re.compile(r"^(?P<param>.+)_(?P<level>\d+(?:\.\d+)?)$")


def split_level(name: str) -> tuple[str, str | None]:
    """``t_850`` -> (``t``, ``850``); names without a level suffix keep ``None``."""
    match = _LEVEL.match(name)
    if match:
        return match.group("param"), match.group("level")
    return name, None


def variable_attributes(name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """CF attributes of the forecast variable ``name`` given its checkpoint metadata."""
    metadata = metadata or {}
    param, level = split_level(name)
    standard_name, units, long_name = STANDARD_NAMES.get(param, (None, None, param))
    if level is not None:
        long_name = f"{long_name} at {level} hPa"
    attributes: dict[str, Any] = {"long_name": str(metadata.get("long_name") or long_name)}
    chosen_units = metadata.get("units") or units
    if chosen_units:
        attributes["units"] = str(chosen_units)
    if standard_name:
        attributes["standard_name"] = standard_name
    if level is not None:
        attributes["pressure_level_hPa"] = float(level)
    if metadata.get("kind"):
        attributes["wx_kind"] = str(metadata["kind"])
    return attributes


LATITUDE = {
    "units": "degrees_north",
    "standard_name": "latitude",
    "long_name": "latitude",
    "axis": "Y",
}
LONGITUDE = {
    "units": "degrees_east",
    "standard_name": "longitude",
    "long_name": "longitude",
    "axis": "X",
}
INIT_TIME = {
    "units": "seconds since 1970-01-01 00:00:00",
    "calendar": "proleptic_gregorian",
    "standard_name": "forecast_reference_time",
    "long_name": "initial time of forecast",
}
VALID_TIME = {
    "units": "seconds since 1970-01-01 00:00:00",
    "calendar": "proleptic_gregorian",
    "standard_name": "time",
    "long_name": "valid time of forecast",
}
MEMBER = {"standard_name": "realization", "long_name": "ensemble member", "units": "1"}
INTERIOR_MASK = {
    "long_name": "1 where the model forecasts, 0 where values come from the boundary dataset",
    "units": "1",
    "flag_values": [0, 1],
    "flag_meanings": "boundary interior",
}


def lead_time_attributes(unit: str) -> dict[str, Any]:
    """``lead_time`` attributes; ``dtype`` lets xarray decode it as a timedelta."""
    return {
        "units": unit,
        "standard_name": "forecast_period",
        "long_name": "time since forecast_reference_time",
        "dtype": "timedelta64[s]",
    }


LEAD_UNITS = (("hours", 3600), ("minutes", 60), ("seconds", 1))


def lead_time_unit(lead_seconds: list[int]) -> tuple[str, int]:
    """The largest unit (hours, minutes or seconds) in which every lead time is a whole number."""
    for unit, size in LEAD_UNITS:
        if all(seconds % size == 0 for seconds in lead_seconds):
            return unit, size
    return "seconds", 1
