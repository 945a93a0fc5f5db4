"""GRIB inputs read with cfgrib (the optional extra ``wx-datasets[grib]``).

Keys: those of ``netcdf`` plus ``filter_by_keys`` (cfgrib's selection of messages, needed for
files that mix level types, e.g. ``{typeOfLevel: isobaricInhPa}``). Index files are not written.
"""

from __future__ import annotations

from wx_datasets.errors import SourceError
from wx_datasets.fields import Source
from wx_datasets.recipe import Section
from wx_datasets.sources import OpenContext, register_source
from wx_datasets.sources.files import DATASET_KEYS, dataset_options, open_xarray_files


def require_cfgrib() -> None:
    """Raise SourceError with the install hint unless cfgrib and the ecCodes library load."""
    try:
        import cfgrib  # noqa: F401
    except (ImportError, RuntimeError) as error:
        raise SourceError(
            "GRIB inputs need cfgrib and the ecCodes library: pip install 'wx-datasets[grib]' "
            f"({error})"
        ) from None


@register_source("grib")
def _open_grib(section: Section, context: OpenContext) -> Source:
    section.only((*DATASET_KEYS, "path", "filter_by_keys"))
    require_cfgrib()
    backend = {"indexpath": "", "filter_by_keys": section.mapping("filter_by_keys", {})}
    return open_xarray_files(
        section,
        context,
        engine="cfgrib",
        open_options={"backend_kwargs": backend},
        options=dataset_options(section, context),
    )
