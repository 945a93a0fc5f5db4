"""Damped anomaly persistence of benchmarks/damped_persistence_ncep.py: its fit and forecast."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
damped = pytest.importorskip("damped_persistence_ncep")


def ar1(rate: float, *, times: int, cells: int, seed: int) -> np.ndarray:
    """``[time, cell]`` anomalies of a first-order autoregression with unit innovations."""
    generator = np.random.default_rng(seed)
    anomaly = np.empty((times, cells))
    anomaly[0] = generator.normal(size=cells) / np.sqrt(1 - rate**2)
    for t in range(1, times):
        anomaly[t] = rate * anomaly[t - 1] + generator.normal(size=cells)
    return anomaly


def test_damping_recovers_the_lag_autocorrelation_of_an_autoregression():
    rate = 0.8
    anomaly = ar1(rate, times=20000, cells=4, seed=0)
    betas = damped.damping(anomaly, np.ones(4), np.ones(20000, bool), lead_steps=6)
    np.testing.assert_allclose(betas, rate ** np.arange(1, 7), atol=0.02)


def test_damping_pairs_only_training_times():
    anomaly = ar1(0.7, times=3000, cells=3, seed=1)
    train = np.arange(3000) < 2000
    spoiled = anomaly.copy()
    spoiled[2000:] = -1e6 * anomaly[2000:]  # after the training period: must not be read
    weights = np.array([1.0, 2.0, 0.5])
    expected = damped.damping(anomaly[:2000], weights, np.ones(2000, bool), lead_steps=5)
    np.testing.assert_allclose(damped.damping(spoiled, weights, train, lead_steps=5), expected)


def test_damping_weights_cells_by_area():
    persistent = ar1(0.9, times=4000, cells=1, seed=2)
    alternating = persistent * np.where(np.arange(4000) % 2, 1.0, -1.0)[:, None]
    anomaly = np.concatenate([persistent, alternating], axis=1)  # [time, 2]
    train = np.ones(4000, bool)
    only_first = damped.damping(anomaly, np.array([1.0, 0.0]), train, lead_steps=1)
    assert only_first[0] == pytest.approx(damped.damping(persistent, np.ones(1), train, 1)[0])
    assert only_first[0] > 0.85
    assert damped.damping(anomaly, np.array([0.0, 1.0]), train, lead_steps=1)[0] < -0.85


def test_forecast_is_the_climatology_plus_the_damped_initial_anomaly():
    generator = np.random.default_rng(3)
    anomaly = generator.normal(size=(40, 5))  # [time, cell]
    climatology = 280 + generator.normal(size=(40, 5))
    betas = np.array([0.9, 0.5, 0.1])
    inits = np.array([0, 7, 30])
    out = damped.forecast(anomaly, climatology, betas, inits)
    assert out.shape == (3, 3, 5)
    for i, init in enumerate(inits):
        for lead in (1, 2, 3):
            np.testing.assert_allclose(
                out[i, lead - 1], climatology[init + lead] + betas[lead - 1] * anomaly[init]
            )
