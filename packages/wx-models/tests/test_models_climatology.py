"""The harmonic climatology input: its fit, its value one step later, and the model around it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wx_models import load_checkpoint, save_checkpoint
from wx_models.climatology import (
    ANGLE_FORCINGS,
    ClimatologyError,
    HarmonicClimatology,
    harmonic_basis,
    harmonic_terms,
)
from wx_models.debug import TINY_STATISTICS, random_graph, tiny_model_arguments
from wx_models.variables import VariableError
from wx_models.weather_model import WeatherModel

CELLS = 48  # random_graph's grid nodes


def grid() -> tuple[np.ndarray, np.ndarray]:
    graph = random_graph()
    positions = np.rad2deg(graph["data"].x.double().numpy())
    return positions[:, 0], positions[:, 1]


def angles(dates: np.ndarray, latitudes, longitudes) -> np.ndarray:
    """The four angle forcings ``[time, cell, 4]`` (as wx_datasets.forcings defines them)."""
    seconds = dates.astype("datetime64[s]")
    year = seconds.astype("datetime64[Y]")
    days = (seconds - year.astype("datetime64[s]")).astype(np.float64) / 86400.0
    length = ((year + 1).astype("datetime64[D]") - year.astype("datetime64[D]")).astype(float)
    year_angle = np.repeat((2 * np.pi * days / length)[:, None], len(longitudes), axis=1)
    hours = (seconds - seconds.astype("datetime64[D]")).astype(np.float64) / 3600.0
    local_angle = 2 * np.pi * (hours[:, None] + np.asarray(longitudes)[None] / 15.0) / 24.0
    return np.stack(
        [np.cos(year_angle), np.sin(year_angle), np.cos(local_angle), np.sin(local_angle)], -1
    )  # [time, cell, 4]


@pytest.mark.parametrize("annual_harmonics", [1, 2, 3])
def test_fit_recovers_the_coefficients_of_a_harmonic_field(annual_harmonics):
    latitudes, longitudes = grid()
    # 3-hourly: 6-hourly dates see the semidiurnal pair (cos 2L, sin 2L) as one function
    dates = np.arange("2013-01-01T00", "2014-01-01T00", 3, dtype="datetime64[h]")
    forcing = angles(dates, latitudes, longitudes)  # [time, cell, 4]
    generator = torch.Generator().manual_seed(0)
    terms = harmonic_terms(annual_harmonics)
    truth = torch.randn(CELLS, 1, terms, generator=generator, dtype=torch.float64)
    basis = harmonic_basis(*torch.as_tensor(forcing).unbind(-1), annual_harmonics=annual_harmonics)
    noise = 0.1 * np.random.default_rng(1).normal(size=(dates.size, CELLS, 1))
    values = torch.einsum("tck,cvk->tcv", basis, truth).numpy() + noise  # [time, cell, 1]
    climatology = HarmonicClimatology(
        variables=["t"],
        num_cells=CELLS,
        angle_columns=[0, 1, 2, 3],
        step_seconds=21600,
        annual_harmonics=annual_harmonics,
    )
    assert climatology.coefficients.shape == (CELLS, 1, terms)
    residual = climatology.fit(values, forcing)
    assert residual["t"] == pytest.approx(0.1, rel=0.05)  # the noise, and only the noise
    np.testing.assert_allclose(climatology.coefficients.double(), truth, atol=0.02)


def test_the_basis_is_the_formula():
    year, local = torch.linspace(0, 6.2, 50, dtype=torch.float64), torch.linspace(3, -2, 50)
    local = local.double()
    cos_j, sin_j, cos_l, sin_l = year.cos(), year.sin(), local.cos(), local.sin()
    diurnal = [
        local.cos(),
        local.sin(),
        (2 * local).cos(),
        (2 * local).sin(),
        year.cos() * local.cos(),
        year.sin() * local.cos(),
        year.cos() * local.sin(),
        year.sin() * local.sin(),
    ]
    for harmonics in (1, 2, 3):
        annual = [f(k * year) for k in range(1, harmonics + 1) for f in (torch.cos, torch.sin)]
        expected = torch.stack([torch.ones_like(year), *annual, *diurnal], dim=-1)
        basis = harmonic_basis(cos_j, sin_j, cos_l, sin_l, annual_harmonics=harmonics)
        assert basis.shape == (50, harmonic_terms(harmonics)) == (50, 9 + 2 * harmonics)
        torch.testing.assert_close(basis, expected, rtol=0, atol=1e-12)
    # the default is the 13-term basis of the first checkpoints
    assert harmonic_basis(cos_j, sin_j, cos_l, sin_l).shape == (50, 13)


def test_the_value_one_step_later_is_the_value_at_the_later_date():
    latitudes, longitudes = grid()
    dates = np.array(["2013-03-02T06", "2013-07-15T18", "2013-12-31T18"], dtype="datetime64[s]")
    climatology = HarmonicClimatology(
        variables=["t", "q"], num_cells=CELLS, angle_columns=[2, 3, 0, 1], step_seconds=21600
    )
    torch.nn.init.normal_(climatology.coefficients)
    forcing = torch.as_tensor(angles(dates, latitudes, longitudes), dtype=torch.float32)
    shuffled = forcing[..., [2, 3, 0, 1]]  # the columns the module is told about
    values = climatology(shuffled)  # [time, cell, 2 * variable]
    later = angles(dates + np.timedelta64(6, "h"), latitudes, longitudes)
    expected = torch.einsum(
        "tck,cvk->tcv",
        harmonic_basis(*torch.as_tensor(later).unbind(-1)),
        climatology.coefficients.double(),
    )
    # the year angle turns by 6 h / 365.2425 days, the forcings' by 6 h / 365 days
    torch.testing.assert_close(values[..., 2:].double(), expected, rtol=0, atol=2e-3)
    now = torch.einsum(
        "tck,cvk->tcv",
        harmonic_basis(*forcing.double().unbind(-1)),
        climatology.coefficients.double(),
    )
    torch.testing.assert_close(values[..., :2].double(), now, rtol=0, atol=1e-4)


VARIABLES = {"t": "prognostic", **dict.fromkeys(ANGLE_FORCINGS, "forcing")}
STATISTICS = {
    "t": TINY_STATISTICS["t_850"],
    **{
        name: {"mean": 0.0, "stdev": 0.7, "minimum": -1.0, "maximum": 1.0}
        for name in ANGLE_FORCINGS
    },
}


def climatology_model(**overrides) -> WeatherModel:
    torch.manual_seed(0)
    arguments = {
        "graph": random_graph(),
        "variables": VARIABLES,
        "statistics": STATISTICS,
        "input_steps": 2,
        "normaliser": dict.fromkeys(ANGLE_FORCINGS, "none"),
        "climatology": ["t"],
        **tiny_model_arguments("gnn"),
    }
    return WeatherModel(**{**arguments, **overrides})


def model_inputs(model: WeatherModel, dates: np.ndarray) -> torch.Tensor:
    """``[1, input_steps, cell, input_variable]``: temperatures and the angle forcings."""
    latitudes, longitudes = grid()
    forcing = torch.as_tensor(angles(dates, latitudes, longitudes), dtype=torch.float32)
    temperature = 280 + torch.randn(
        dates.size, CELLS, 1, generator=torch.Generator().manual_seed(2)
    )
    return torch.cat([temperature, forcing], dim=-1).unsqueeze(0)


def test_the_model_reads_its_climatology_and_saves_it(tmp_path):
    model = climatology_model().eval()
    dates = np.array(["2013-05-01T00", "2013-05-01T06"], dtype="datetime64[s]")
    x = model_inputs(model, dates)
    with torch.no_grad():
        before = model(x)
        model.climatology.coefficients[:, 0, 0] += 10.0  # a warmer climate, everywhere
        warmer = model(x)
    assert not torch.equal(before, warmer)  # the network sees the climatology
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    assert metadata["model"]["arguments"]["climatology"] == ["t"]
    torch.testing.assert_close(loaded.climatology.coefficients, model.climatology.coefficients)
    with torch.no_grad():
        assert torch.equal(loaded(x), warmer)


def test_one_annual_harmonic_model_saves_and_loads(tmp_path):
    model = climatology_model(climatology_harmonics=1).eval()
    assert model.climatology.coefficients.shape == (CELLS, 1, 11)
    torch.nn.init.normal_(model.climatology.coefficients)
    dates = np.array(["2013-05-01T00", "2013-05-01T06"], dtype="datetime64[s]")
    x = model_inputs(model, dates)
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    assert metadata["model"]["arguments"]["climatology_harmonics"] == 1
    assert loaded.climatology.annual_harmonics == 1
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_climatology_errors_name_what_is_wrong():
    for bad in (0, 1.5, True):
        with pytest.raises(ClimatologyError, match=f"climatology_harmonics {bad!r}"):
            climatology_model(climatology_harmonics=bad)
    with pytest.raises(ClimatologyError, match="'cos_julian_day' is not a prognostic variable"):
        climatology_model(climatology=["cos_julian_day"])
    variables = {"t": "prognostic", "cos_julian_day": "forcing", "sin_julian_day": "forcing"}
    with pytest.raises(ClimatologyError, match="needs the forcings \\['cos_local_time'"):
        climatology_model(
            variables=variables,
            normaliser=dict.fromkeys(["cos_julian_day", "sin_julian_day"], "none"),
        )
    with pytest.raises(ClimatologyError, match="expected values \\[3, 48, 1\\]"):
        climatology_model().climatology.fit(np.zeros((3, 48, 2)), np.zeros((3, 48, 4)))


def test_climatology_keeps_float64_under_bf16_autocast():
    climatology = HarmonicClimatology(
        variables=["t"], num_cells=CELLS, angle_columns=[0, 1, 2, 3], step_seconds=21600
    )
    climatology.coefficients[:, 0, 0] = 288.3  # bf16 holds 288.0 or 289.0, not 288.3
    latitudes, longitudes = grid()
    dates = np.array(["2013-06-01T12"], dtype="datetime64[s]")
    forcing = torch.as_tensor(angles(dates, latitudes, longitudes), dtype=torch.float32)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        values = climatology(forcing)
    torch.testing.assert_close(values, torch.full_like(values, 288.3), rtol=0, atol=1e-4)


def may_and_autumn(model: WeatherModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs on 1 May and the same with the date moved to autumn (same local time); the
    model's climatology set to 280 K without seasons."""
    dates = np.array(["2013-05-01T00", "2013-05-01T06"], dtype="datetime64[s]")
    x = model_inputs(model, dates)
    autumn = x.clone()
    autumn[..., 2] = -x[..., 2]  # cos_julian_day: 1 May -> a date in autumn, same local time
    with torch.no_grad():
        model.climatology.coefficients.zero_()
        model.climatology.coefficients[:, 0, 0] = 280.0
    return x, autumn


def test_withheld_forcings_reach_the_climatology_but_not_the_network(tmp_path):
    withheld = ["cos_julian_day", "sin_julian_day"]
    model = climatology_model(withheld_forcings=withheld, cell_stencil=1).eval()
    plain = climatology_model(cell_stencil=1).eval()
    # 2 input steps of 5 variables, less the 2 withheld, plus the climatology now and later
    assert model.network.sizes["input_size"] == 2 * 3 + 2
    assert plain.network.sizes["input_size"] == 2 * 5 + 2
    torch.nn.init.normal_(model.network.cell_stencil.weight)
    x, autumn = may_and_autumn(model)
    with torch.no_grad():
        assert torch.equal(model(x), model(autumn))  # the network does not see the date
        plain.climatology.coefficients.copy_(model.climatology.coefficients)
        assert not torch.equal(plain(x), plain(autumn))
        model.climatology.coefficients[:, 0, 1] = 5.0  # + 5 K cos(year angle): seasons
        assert not torch.equal(model(x), model(autumn))  # ... which the climatology reads
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    assert metadata["model"]["arguments"]["withheld_forcings"] == withheld
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_withheld_forcings_must_be_forcings():
    with pytest.raises(VariableError, match=r"withheld_forcings: \['t'\] are not forcings"):
        climatology_model(withheld_forcings=["t"])


JULIAN = ["cos_julian_day", "sin_julian_day"]


def test_the_stencil_basis_reaches_the_stencil_but_not_the_network(tmp_path):
    model = climatology_model(withheld_forcings=JULIAN, cell_stencil=1, cell_stencil_basis=True)
    model.eval()
    # the network's inputs are those of the model without the basis: 2 steps of 3, 2 climatology
    assert model.network.sizes["input_size"] == 2 * 3 + 2
    # the stencil also reads the basis at the valid time (2 annual harmonics), less its constant
    assert model.network.cell_stencil.num_features == 2 * 3 + 2 + (9 + 2 * 2 - 1)
    x, autumn = may_and_autumn(model)
    with torch.no_grad():
        assert torch.equal(model(x), model(autumn))  # a zero stencil: the network alone
        torch.nn.init.normal_(model.network.cell_stencil.weight)
        assert not torch.equal(model(x), model(autumn))  # the stencil reads the season
    save_checkpoint(tmp_path / "m.safetensors", model, metadata={})
    loaded, metadata = load_checkpoint(tmp_path / "m.safetensors")
    assert metadata["model"]["arguments"]["cell_stencil_basis"] is True
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def seasonal_tendency_windows(model: WeatherModel, count: int) -> tuple[torch.Tensor, ...]:
    """``count`` windows ``x`` of 2013 and next states ``y`` whose 6 h change is each cell's own
    random combination of the harmonic basis at the valid time (a seasonal tendency)."""
    latitudes, longitudes = grid()
    rng = np.random.default_rng(3)
    starts = np.datetime64("2013-01-01T00", "s") + 21600 * rng.choice(1456, count, replace=False)
    dates = starts[:, None] + np.array([0, 21600, 43200]).astype("timedelta64[s]")  # 2 in, 1 out
    forcing = torch.as_tensor(angles(dates.ravel(), latitudes, longitudes), dtype=torch.float32)
    forcing = forcing.reshape(count, 3, CELLS, 4)  # [window, time, cell, 4]
    temperature = 280 + 5 * torch.randn(
        count, 2, CELLS, 1, generator=torch.Generator().manual_seed(4)
    )
    x = torch.cat([temperature, forcing[:, :2]], dim=-1)  # [window, step, cell, variable]
    basis = harmonic_basis(*forcing[:, 2].double().unbind(-1), annual_harmonics=2)
    coefficients = torch.randn(CELLS, basis.shape[-1], generator=torch.Generator().manual_seed(5))
    tendency = torch.einsum("wck,ck->wc", basis, coefficients.double()).float()  # [window, cell]
    return x, (temperature[:, -1, :, 0] + tendency)[..., None]  # y: [window, cell, 1]


def test_with_the_basis_the_stencil_fits_each_cells_seasonal_tendency():
    errors = {}
    for basis in (True, False):
        model = climatology_model(
            withheld_forcings=JULIAN, cell_stencil=1, cell_stencil_basis=basis
        ).eval()
        x, y = seasonal_tendency_windows(model, 600)
        # the truth is persistence plus a tendency: shrink towards persistence
        model.fit_cell_stencil([(x, y)], prior="persistence")
        with torch.no_grad():
            errors[basis] = float((model(x) - y).square().mean().sqrt())
    # the seasonal-diurnal terms are products of the withheld date and the local time: the
    # network's inputs hold no linear combination of them, the basis holds them exactly
    assert errors[True] < 0.05
    assert errors[False] > 0.5


def test_the_stencil_basis_needs_a_stencil_and_a_climatology():
    with pytest.raises(ClimatologyError, match="cell_stencil_basis: expected a cell_stencil"):
        climatology_model(cell_stencil_basis=True)
    with pytest.raises(ClimatologyError, match="cell_stencil_basis: expected a cell_stencil"):
        climatology_model(climatology=[], cell_stencil=1, cell_stencil_basis=True)
    with pytest.raises(ValueError, match="cell_stencil_basis 'yes': expected true or false"):
        climatology_model(cell_stencil=1, cell_stencil_basis="yes")
