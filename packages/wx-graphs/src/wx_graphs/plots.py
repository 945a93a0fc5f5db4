"""PNG plots of a graph: a latitude-longitude map, an orthographic globe, a zoomed region and
the degree / edge-length distributions (matplotlib, Agg canvas; no map library needed).

The orthographic projection is done by hand: a point at latitude phi, longitude lam seen from
above (phi0, lam0) lies at ``x = cos(phi) sin(lam - lam0)``,
``y = cos(phi0) sin(phi) - sin(phi0) cos(phi) cos(lam - lam0)`` and is visible when
``sin(phi0) sin(phi) + cos(phi0) cos(phi) cos(lam - lam0) > 0`` (Snyder 1987, "Map projections:
a working manual", USGS PP 1395, p. 149). Edges are drawn along their great circles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from wx_graphs.graph import Graph
from wx_graphs.inspection import edge_lengths_km, node_kind
from wx_graphs.regions import Area
from wx_graphs.sphere import lat_lon_to_xyz, xyz_to_lat_lon

ROLE_COLOURS = {"grid2mesh": "tab:green", "multi_mesh": "tab:blue", "mesh2grid": "tab:orange"}
OTHER_COLOURS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive")
NODE_COLOURS = ("0.3", "tab:red", "tab:cyan", "tab:olive")
MAX_EDGES = 40_000
MAX_NODES = 150_000
DEFAULT_ZOOM = Area(north=60.0, west=-10.0, south=35.0, east=30.0)


def edge_colour(graph: Graph, key: tuple[str, str]) -> str:
    """Encoder green, processor blue, decoder orange (from the recipe's builders)."""
    builders = {(e.get("source"), e.get("target")): e.get("builder") for e in _recipe_edges(graph)}
    if builders.get(key) in ROLE_COLOURS:
        return ROLE_COLOURS[builders[key]]
    return OTHER_COLOURS[list(graph.edges).index(key) % len(OTHER_COLOURS)]


def node_colour(graph: Graph, name: str) -> str:
    return NODE_COLOURS[list(graph.nodes).index(name) % len(NODE_COLOURS)]


def _recipe_edges(graph: Graph) -> list[dict]:
    edges = graph.recipe.get("edges", [])
    return [entry for entry in edges if isinstance(entry, dict)]


def _pick_edges(graph: Graph, key: tuple[str, str], area: Area | None = None) -> np.ndarray:
    """Edge indices to draw: all that fit, else the longest (processor) or a fixed sample."""
    source, target = key
    edge_index = graph.edges[key].edge_index
    chosen = np.arange(edge_index.shape[1])
    if area is not None:
        inside = np.ones(len(chosen), dtype=bool)
        for nodes, rows in (
            (graph.nodes[source], edge_index[0]),
            (graph.nodes[target], edge_index[1]),
        ):
            inside &= area.contains(nodes.latitudes[rows], nodes.longitudes[rows])
        chosen = chosen[inside]
    if len(chosen) <= MAX_EDGES:
        return chosen
    if source == target:  # multi-mesh: the longest edges show the coarse levels
        lengths = edge_lengths_km(graph, source, target)[chosen]
        return np.sort(chosen[np.argsort(-lengths, kind="stable")[:MAX_EDGES]])
    return np.sort(np.random.default_rng(0).choice(chosen, size=MAX_EDGES, replace=False))


def _node_size(count: int) -> float:
    return float(np.clip(3e4 / max(count, 1), 0.1, 12.0))


def _legend(ax, graph: Graph, edge_keys, node_names) -> None:
    handles = [
        Line2D(
            [],
            [],
            color=edge_colour(graph, key),
            label=f"{key[0]} -> {key[1]} ({graph.edges[key].num_edges:,})",
        )
        for key in edge_keys
    ]
    handles += [
        Line2D(
            [],
            [],
            color=node_colour(graph, name),
            marker="o",
            linestyle="",
            label=f"{name} ({graph.nodes[name].num_nodes:,})",
        )
        for name in node_names
    ]
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.85)


def plot_map(graph: Graph, path: Path, *, area: Area | None = None, title: str = "") -> Path:
    """Nodes and edges on latitude-longitude axes (the whole globe, or ``area`` zoomed)."""
    span = 360.0 if area is None or area.full_circle else float(np.mod(area.east - area.west, 360))
    west = -180.0 if area is None or area.full_circle else area.west
    centre = west + span / 2

    def display(lon):  # longitudes within 180 degrees of the centre
        return centre + np.mod(np.asarray(lon) - centre + 180.0, 360.0) - 180.0

    figure = Figure(figsize=(13, 7) if area is None else (11, 8), dpi=110)
    ax = figure.add_subplot()
    for key in graph.edges:
        index = graph.edges[key].edge_index[:, _pick_edges(graph, key, area)]
        start, end = graph.nodes[key[0]], graph.nodes[key[1]]
        lon0, lon1 = display(start.longitudes[index[0]]), display(end.longitudes[index[1]])
        lat0, lat1 = start.latitudes[index[0]], end.latitudes[index[1]]
        keep = np.abs(lon1 - lon0) < 180.0  # edges across the map's seam are left out
        segments = np.stack(
            [
                np.stack([lon0[keep], lat0[keep]], axis=1),
                np.stack([lon1[keep], lat1[keep]], axis=1),
            ],
            axis=1,
        )  # [edge, end, (lon, lat)]
        width = 0.6 if key[0] == key[1] else 0.3
        ax.add_collection(
            LineCollection(segments, colors=edge_colour(graph, key), linewidths=width, alpha=0.7)
        )
    for name, nodes in graph.nodes.items():
        show = np.ones(nodes.num_nodes, dtype=bool)
        if area is not None:
            show = area.contains(nodes.latitudes, nodes.longitudes)
        rows = np.flatnonzero(show)[:: max(1, int(show.sum()) // MAX_NODES)]
        lon, lat = display(nodes.longitudes[rows]), nodes.latitudes[rows]
        ax.scatter(
            lon,
            lat,
            s=_node_size(len(rows)),
            color=node_colour(graph, name),
            linewidths=0,
            zorder=3,
        )
    ax.set_xlim(west, west + span)
    ax.set_ylim((-90, 90) if area is None else (area.south, area.north))
    ax.set_aspect("equal")
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
    ax.grid(True, linewidth=0.3)
    ax.set_title(title)
    _legend(ax, graph, list(graph.edges), list(graph.nodes))
    figure.savefig(path, bbox_inches="tight")
    return path


def orthographic(xyz: np.ndarray, centre_lat: float, centre_lon: float):
    """Projected ``x, y`` and visibility of unit vectors ``[..., 3]`` seen from the centre."""
    lat, lon = np.radians(centre_lat), np.radians(centre_lon)
    # rotate the centre to (1, 0, 0): x is depth, y east, z north
    x1 = xyz[..., 0] * np.cos(lon) + xyz[..., 1] * np.sin(lon)
    y1 = xyz[..., 1] * np.cos(lon) - xyz[..., 0] * np.sin(lon)
    depth = x1 * np.cos(lat) + xyz[..., 2] * np.sin(lat)
    north = xyz[..., 2] * np.cos(lat) - x1 * np.sin(lat)
    return y1, north, depth > 0


def _great_circle_points(start: np.ndarray, end: np.ndarray, steps: int = 6) -> np.ndarray:
    """Points ``[edge, step, 3]`` along the great circles from ``start`` to ``end``."""
    weights = np.linspace(0.0, 1.0, steps)[None, :, None]
    points = start[:, None, :] * (1 - weights) + end[:, None, :] * weights
    return points / np.linalg.norm(points, axis=2, keepdims=True)


def plot_globe(
    graph: Graph, path: Path, *, centre_lat: float = 30.0, centre_lon: float = 0.0, title: str = ""
) -> Path:
    """The mesh (processor edges and mesh nodes) on an orthographic globe."""
    edge_keys = [key for key in graph.edges if key[0] == key[1]] or list(graph.edges)
    node_names = [name for name in graph.nodes if node_kind(graph, name) == "mesh"] or list(
        graph.nodes
    )
    figure = Figure(figsize=(9, 9), dpi=110)
    ax = figure.add_subplot()
    ax.add_patch(Circle((0, 0), 1.0, facecolor="none", edgecolor="black", linewidth=0.8))
    _graticule(ax, centre_lat, centre_lon)
    for key in edge_keys:
        index = graph.edges[key].edge_index[:, _pick_edges(graph, key)]
        start, end = graph.nodes[key[0]], graph.nodes[key[1]]
        start_xyz = lat_lon_to_xyz(start.latitudes[index[0]], start.longitudes[index[0]])
        end_xyz = lat_lon_to_xyz(end.latitudes[index[1]], end.longitudes[index[1]])
        x, y, visible = orthographic(
            _great_circle_points(start_xyz, end_xyz), centre_lat, centre_lon
        )
        keep = visible.all(axis=1)
        segments = np.stack([x[keep], y[keep]], axis=2)  # [edge, step, (x, y)]
        ax.add_collection(
            LineCollection(segments, colors=edge_colour(graph, key), linewidths=0.4, alpha=0.8)
        )
    for name in node_names:
        nodes = graph.nodes[name]
        rows = np.arange(0, nodes.num_nodes, max(1, nodes.num_nodes // MAX_NODES))
        xyz = lat_lon_to_xyz(nodes.latitudes[rows], nodes.longitudes[rows])
        x, y, visible = orthographic(xyz, centre_lat, centre_lon)
        ax.scatter(
            x[visible],
            y[visible],
            s=_node_size(len(rows)),
            color=node_colour(graph, name),
            linewidths=0,
            zorder=3,
        )
    ax.set_xlim(-1.02, 1.02)
    ax.set_ylim(-1.02, 1.02)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"orthographic view from {centre_lat:.0f}N {centre_lon:.0f}E")
    _legend(ax, graph, edge_keys, node_names)
    figure.savefig(path, bbox_inches="tight")
    return path


def _graticule(ax, centre_lat: float, centre_lon: float) -> None:
    """Parallels and meridians every 30 degrees."""
    steps = np.linspace(-180, 180, 181)
    lines = [lat_lon_to_xyz(np.full_like(steps, lat), steps) for lat in range(-60, 90, 30)]
    lines += [
        lat_lon_to_xyz(np.linspace(-90, 90, 91), np.full(91, float(lon)))
        for lon in range(0, 360, 30)
    ]
    for line in lines:
        x, y, visible = orthographic(line, centre_lat, centre_lon)
        ax.plot(
            np.where(visible, x, np.nan), np.where(visible, y, np.nan), color="0.8", linewidth=0.5
        )


def plot_distributions(graph: Graph, path: Path, *, title: str = "") -> Path:
    """Per edge set: a histogram of edge lengths (km) and of receiver in-degrees."""
    figure = Figure(figsize=(11, 3.2 * max(1, len(graph.edges))), dpi=100)
    axes = figure.subplots(max(1, len(graph.edges)), 2, squeeze=False)
    for row, (source, target) in enumerate(graph.edges):
        colour = edge_colour(graph, (source, target))
        axes[row, 0].hist(edge_lengths_km(graph, source, target), bins=80, color=colour)
        axes[row, 0].set_xlabel(f"{source} -> {target}: edge length (km)")
        axes[row, 0].set_ylabel("edges")
        receivers = graph.edges[source, target].edge_index[1]
        degree = np.bincount(receivers, minlength=graph.nodes[target].num_nodes)
        axes[row, 1].bar(np.arange(degree.max() + 1), np.bincount(degree), color=colour)
        axes[row, 1].set_xlabel(f"in-degree of {target} nodes")
        axes[row, 1].set_ylabel("nodes")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path)
    return path


def recipe_area(graph: Graph) -> Area | None:
    """The area of the zoomed view: a node set's ``area`` (with its margin), else an interior mask's."""
    specs = [spec for spec in graph.recipe.get("nodes", {}).values() if isinstance(spec, dict)]
    for spec in specs:
        if "area" in spec:
            area = Area.parse(spec["area"], key="area")
            return _padded(area, float(spec.get("margin_deg", 0.0)) + 2.0)
    for spec in specs:
        mask = (spec.get("attributes") or {}).get("interior_mask")
        if isinstance(mask, dict) and "area" in mask:
            return _padded(Area.parse(mask["area"], key="interior_mask.area"), 5.0)
    return None


def _padded(area: Area, pad: float) -> Area:
    """A box ``pad`` degrees larger in latitude and longitude, within the globe."""
    if area.full_circle:
        return Area(
            north=min(90.0, area.north + pad),
            west=area.west,
            south=max(-90.0, area.south - pad),
            east=area.east,
        )
    span = float(np.mod(area.east - area.west, 360.0))
    widen = min(pad, (360.0 - span) / 2)
    return Area(
        north=min(90.0, area.north + pad),
        west=area.west - widen,
        south=max(-90.0, area.south - pad),
        east=area.west + span + widen,
    )


def plot_all(graph: Graph, folder: Path, stem: str, *, zoom: Area | None = None) -> list[Path]:
    """The map, globe, zoomed map and distribution PNGs of a graph in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    name = graph.recipe.get("name", stem)
    zoom = zoom or recipe_area(graph) or DEFAULT_ZOOM
    centre_lat, centre_lon = _centre(zoom)
    return [
        plot_map(graph, folder / f"{stem}-map.png", title=f"{name}: nodes and edges"),
        plot_globe(
            graph,
            folder / f"{stem}-globe.png",
            centre_lat=centre_lat,
            centre_lon=centre_lon,
            title=f"{name}: the mesh seen from {centre_lat:.0f}N {centre_lon:.0f}E",
        ),
        plot_map(
            graph, folder / f"{stem}-zoom.png", area=zoom, title=f"{name}: zoom on {zoom.as_list()}"
        ),
        plot_distributions(graph, folder / f"{stem}-distributions.png", title=name),
    ]


def _centre(area: Area) -> tuple[float, float]:
    """Latitude and longitude of a box's centre."""
    lon = area.west + np.mod(area.east - area.west, 360.0) / 2
    lat, lon = xyz_to_lat_lon(
        lat_lon_to_xyz(np.array([(area.north + area.south) / 2]), np.array([lon]))
    )
    return float(lat[0]), float(lon[0])
