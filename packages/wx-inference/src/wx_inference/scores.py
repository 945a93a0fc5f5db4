"""Verification scores with the WeatherBench 2 definitions (pure numpy).

Rasp, S., et al. (2024). WeatherBench 2: A benchmark for the next generation of data-driven
global weather models. Journal of Advances in Modeling Earth Systems, 16, e2023MS004019.

Arrays are ``[init, lead, cell]`` (deterministic) or ``[init, lead, member, cell]`` (ensemble);
every score is returned per lead time as ``[lead]``. With area weights ``w`` normalised to mean
1 over the scored cells, the spatial mean of a field ``x`` is ``mean_cell(w * x)``, and

- RMSE  = sqrt( mean_init( mean_cell(w * (f - o)^2) ) )            (square root taken last)
- bias  = mean_init( mean_cell(w * (f - o)) )
- ACC   = mean_init( sum(w f' o') / sqrt(sum(w f'^2) sum(w o'^2)) ), f' = f - c, o' = o - c
          with ``c`` the climatology at the valid time (uncentred, as WeatherBench 2);
- CRPS  = mean_init( mean_cell(w * crps) ) with the fair (unbiased) ensemble estimator
          crps = mean_m |x_m - o| - sum_{m,k} |x_m - x_k| / (2 M (M - 1))
          (Ferro 2014, QJRMS 140, 1917-1923; Zamo & Naveau 2018, Math. Geosci. 50, 209-234);
- spread = sqrt( mean_init( mean_cell(w * var_m(x)) ) ) with the unbiased member variance
          (ddof = 1), skill = RMSE of the ensemble mean, spread/skill = spread / skill
          (Fortin et al. 2014, J. Hydrometeor. 15, 1708-1713).

Latitude weights of a regular grid come from the cell bounds: bounds halfway between
neighbouring latitudes, the outer ones half a spacing beyond the last rows, clipped to +-90
degrees; the weight of a row is ``sin(upper) - sin(lower)`` (the cell's area fraction), then
normalised to mean 1 (Gaussian grids get the same midpoint bounds, close to but not exactly their
quadrature weights). On other grids the dataset's ``area_weight`` is normalised to mean 1.
"""

from __future__ import annotations

import numpy as np


class ScoreError(ValueError):
    """Arrays that cannot be scored together (shapes, weights, ensemble size)."""


def latitude_bounds(latitudes: np.ndarray) -> np.ndarray:
    """Cell bounds ``[lat, 2]`` (lower, upper) in degrees of the rows of a regular grid."""
    lat = np.asarray(latitudes, dtype=np.float64)
    if lat.ndim != 1 or lat.size == 0:
        raise ScoreError(f"latitudes: expected a non-empty 1-D array, got shape {lat.shape}")
    if lat.size == 1:
        return np.array([[-90.0, 90.0]])
    order = np.argsort(lat)
    ascending = lat[order]
    if np.any(np.diff(ascending) <= 0):
        raise ScoreError("latitudes: rows of a regular grid must be distinct")
    middle = 0.5 * (ascending[1:] + ascending[:-1])
    lower = np.concatenate([[ascending[0] - (middle[0] - ascending[0])], middle])
    upper = np.concatenate([middle, [ascending[-1] + (ascending[-1] - middle[-1])]])
    bounds = np.clip(np.stack([lower, upper], axis=1), -90.0, 90.0)  # [lat, 2]
    result = np.empty_like(bounds)
    result[order] = bounds
    return result


def latitude_weights(latitudes: np.ndarray) -> np.ndarray:
    """Area weights ``[lat]`` of the rows of a regular grid, normalised to mean 1."""
    bounds = np.deg2rad(latitude_bounds(latitudes))
    weights = np.sin(bounds[:, 1]) - np.sin(bounds[:, 0])
    return weights / weights.mean()


def normalise_weights(weights: np.ndarray) -> np.ndarray:
    """``weights`` scaled to mean 1 (they must be finite, non-negative and not all zero)."""
    weights = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise ScoreError("area weights must be finite, non-negative and not all zero")
    return weights / weights.mean()


def cell_weights(
    latitudes: np.ndarray,
    *,
    grid_shape: tuple[int, int] | None = None,
    area_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Weights ``[cell]`` (mean 1) of the cells of a grid.

    A regular grid (``grid_shape`` = (lat, lon), cells in row-major order) gets the latitude
    weights from cell bounds; otherwise ``area_weight`` is required.
    """
    latitudes = np.asarray(latitudes, dtype=np.float64)
    if grid_shape is not None:
        nlat, nlon = grid_shape
        if nlat * nlon != latitudes.size:
            raise ScoreError(f"grid shape {grid_shape} does not hold {latitudes.size} cells")
        rows = latitudes.reshape(nlat, nlon)[:, 0]  # [lat]
        return np.repeat(latitude_weights(rows), nlon)
    if area_weight is None:
        raise ScoreError("an unstructured grid needs the dataset's area_weight to be scored")
    if np.shape(area_weight) != latitudes.shape:
        raise ScoreError(
            f"area_weight has shape {np.shape(area_weight)}, expected {latitudes.shape}"
        )
    return normalise_weights(area_weight)


def spatial_mean(field: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over the last (cell) axis with ``weights`` of mean 1."""
    if field.shape[-1] != weights.shape[-1]:
        raise ScoreError(f"field has {field.shape[-1]} cells, weights {weights.shape[-1]}")
    return np.mean(field * weights, axis=-1)


def _check_pair(forecast: np.ndarray, truth: np.ndarray) -> None:
    if forecast.shape != truth.shape or forecast.ndim != 3:
        raise ScoreError(
            f"forecast {forecast.shape} and truth {truth.shape}: expected equal [init, lead, cell]"
        )


def mse(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean over init of the spatially weighted mean squared error ``[lead]``."""
    _check_pair(forecast, truth)
    return spatial_mean((forecast - truth) ** 2, weights).mean(axis=0)


def rmse(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """WeatherBench 2 RMSE ``[lead]``: the square root of :func:`mse`."""
    return np.sqrt(mse(forecast, truth, weights))


def bias(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean over init of the spatially weighted mean of forecast minus truth ``[lead]``."""
    _check_pair(forecast, truth)
    return spatial_mean(forecast - truth, weights).mean(axis=0)


def acc(
    forecast: np.ndarray, truth: np.ndarray, climatology: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Anomaly correlation coefficient ``[lead]`` (uncentred, averaged over init)."""
    _check_pair(forecast, truth)
    _check_pair(climatology, truth)
    forecast_anomaly = forecast - climatology
    truth_anomaly = truth - climatology
    covariance = spatial_mean(forecast_anomaly * truth_anomaly, weights)  # [init, lead]
    forecast_power = spatial_mean(forecast_anomaly**2, weights)
    truth_power = spatial_mean(truth_anomaly**2, weights)
    return (covariance / np.sqrt(forecast_power * truth_power)).mean(axis=0)


def _check_ensemble(ensemble: np.ndarray, truth: np.ndarray) -> None:
    if ensemble.ndim != 4 or ensemble[:, :, 0].shape != truth.shape:
        raise ScoreError(
            f"ensemble {ensemble.shape} and truth {truth.shape}: expected "
            "[init, lead, member, cell] and [init, lead, cell]"
        )
    if ensemble.shape[2] < 2:
        raise ScoreError(f"an ensemble score needs at least 2 members, got {ensemble.shape[2]}")


def crps_fair(ensemble: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Fair CRPS of each cell ``[init, lead, cell]`` for ``ensemble`` ``[init, lead, member, cell]``.

    The pairwise term uses the sorted members: sum_{m,k} |x_m - x_k| = 2 sum_i (2i - M + 1) x_(i).
    """
    _check_ensemble(ensemble, truth)
    members = ensemble.shape[2]
    skill = np.abs(ensemble - truth[:, :, None, :]).mean(axis=2)
    ordered = np.sort(ensemble, axis=2)
    rank_weight = (2 * np.arange(members) - members + 1).reshape(1, 1, members, 1)
    pairwise = 2.0 * np.sum(rank_weight * ordered, axis=2)  # sum over all ordered pairs
    return skill - pairwise / (2.0 * members * (members - 1))


def crps(ensemble: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean over init of the spatially weighted fair CRPS ``[lead]``."""
    return spatial_mean(crps_fair(ensemble, truth), weights).mean(axis=0)


def spread(ensemble: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Ensemble spread ``[lead]``: sqrt of the mean over init of the weighted member variance."""
    if ensemble.ndim != 4 or ensemble.shape[2] < 2:
        raise ScoreError(f"ensemble {ensemble.shape}: expected [init, lead, member>=2, cell]")
    variance = ensemble.var(axis=2, ddof=1)  # [init, lead, cell]
    return np.sqrt(spatial_mean(variance, weights).mean(axis=0))


def spread_skill(ensemble: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spread over the RMSE of the ensemble mean ``[lead]`` (1 for a reliable ensemble)."""
    _check_ensemble(ensemble, truth)
    return spread(ensemble, weights) / rmse(ensemble.mean(axis=2), truth, weights)


def deterministic_scores(
    forecast: np.ndarray,
    truth: np.ndarray,
    weights: np.ndarray,
    climatology: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """RMSE, bias and (with a climatology) ACC of ``forecast`` ``[init, lead, cell]``."""
    scores = {"rmse": rmse(forecast, truth, weights), "bias": bias(forecast, truth, weights)}
    if climatology is not None:
        scores["acc"] = acc(forecast, truth, climatology, weights)
    return scores


def ensemble_scores(
    ensemble: np.ndarray,
    truth: np.ndarray,
    weights: np.ndarray,
    climatology: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Scores of the ensemble mean plus CRPS, spread and spread/skill ``[lead]`` each."""
    scores = deterministic_scores(ensemble.mean(axis=2), truth, weights, climatology)
    scores["crps"] = crps(ensemble, truth, weights)
    scores["spread"] = spread(ensemble, weights)
    scores["spread_skill"] = scores["spread"] / scores["rmse"]
    return scores
