"""A Markdown model card from a checkpoint's header (Mitchell et al. 2019, "Model cards").

Everything comes from the header, so a card can be written without loading any weight. The
caller's metadata keys read here are all optional: ``name``, ``description``, ``licence``
(or ``license``), ``training`` (a mapping; ``dataset``, ``start``, ``end``, ``frequency`` and
``config`` are shown first), ``validation`` (scores: ``{score: value}`` or
``{score: {variable: value}}``), ``graph_recipe`` and ``intended_use``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

NOT_RECORDED = "_not recorded_"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Mapping | list):
        return "`" + json.dumps(value, sort_keys=True) + "`"
    return str(value).replace("|", "\\|")


def _bounds(arguments: Mapping[str, Any]) -> dict[str, str]:
    described: dict[str, str] = {}
    for rule in arguments.get("bounding", []):
        kind = rule["type"]
        for name in rule["variables"]:
            if kind in ("relu", "non-negative"):
                text = ">= 0"
            elif kind == "clamp":
                text = f"[{rule.get('minimum', '-inf')}, {rule.get('maximum', 'inf')}]"
            else:
                text = f"fraction of {rule['of']}"
            described[name] = ", ".join(filter(None, [described.get(name), text]))
    return described


def _variables_section(metadata: Mapping[str, Any]) -> list[str]:
    arguments = metadata["model"]["arguments"]
    roles = metadata["variables"]["roles"]
    residual = set(arguments.get("residual", []))
    bounds = _bounds(arguments)
    rows = []
    ordered = [*metadata["variables"]["input"], *metadata["variables"]["output"]]
    for name in dict.fromkeys(ordered):  # JSON keeps no key order: use the variable lists
        role = roles[name]
        if role in ("prognostic", "diagnostic"):
            output = "residual (tendency)" if name in residual else "full state"
        else:
            output = "input only"
        rows.append(
            [
                name,
                role,
                arguments["normaliser"].get(name, "mean-std"),
                output,
                bounds.get(name, ""),
            ]
        )
    lines = ["## Variables", ""]
    lines += _table(["variable", "role", "normaliser", "output", "bounds"], rows)
    lines += [
        "",
        f"Inputs in order: {', '.join(metadata['variables']['input'])}.",
        f"Outputs in order: {', '.join(metadata['variables']['output'])}.",
    ]
    return lines


def _grid_section(metadata: Mapping[str, Any]) -> list[str]:
    grid, graph = metadata["grid"], metadata["graph"]
    shape = grid.get("shape")
    lines = [
        "## Grid and graph",
        "",
        f"- grid cells: {grid['cells']}"
        + (f" (regular, shape {' x '.join(map(str, shape))})" if shape else ""),
    ]
    lines += [f"- node set `{name}`: {count} nodes" for name, count in graph["nodes"].items()]
    lines += [f"- edge set `{name}`: {count} edges" for name, count in graph["edges"].items()]
    if "graph_recipe" in metadata:
        lines += [
            "",
            "Graph recipe:",
            "",
            "```json",
            json.dumps(metadata["graph_recipe"], indent=2, sort_keys=True),
            "```",
        ]
    return lines


def _training_section(metadata: Mapping[str, Any]) -> list[str]:
    training = metadata.get("training")
    lines = ["## Training data and period", ""]
    if not isinstance(training, Mapping) or not training:
        return [*lines, NOT_RECORDED]
    first = ["dataset", "start", "end", "frequency"]
    for key in [*first, *sorted(set(training) - {*first, "config"})]:
        if key in training:
            lines.append(f"- {key}: {_cell(training[key])}")
    return lines


def _configuration_section(metadata: Mapping[str, Any]) -> list[str]:
    arguments = metadata["model"]["arguments"]
    keys = [
        "family",
        "latent_size",
        "processor_layers",
        "mlp_hidden_size",
        "heads",
        "edge_chunks",
        "activation_checkpointing",
        "trainable_features",
        "cell_readout",
        "cell_stencil",
        "climatology",
        "climatology_harmonics",
    ]
    lines = [
        "## Configuration",
        "",
        f"- time step: {metadata['time_step']}, input steps: {metadata['input_steps']}",
        f"- parameters: {metadata['model'].get('parameters', NOT_RECORDED)}",
    ]
    lines += [f"- {key}: {arguments[key]}" for key in keys if key in arguments]
    config = (metadata.get("training") or {}).get("config")
    if config is not None:
        lines += [
            "",
            "<details><summary>Training configuration</summary>",
            "",
            "```json",
            json.dumps(config, indent=2, sort_keys=True),
            "```",
            "",
            "</details>",
        ]
    return lines


def _validation_section(metadata: Mapping[str, Any]) -> list[str]:
    scores = metadata.get("validation")
    lines = ["## Validation scores", ""]
    if not isinstance(scores, Mapping) or not scores:
        return [*lines, NOT_RECORDED]
    nested = {k: v for k, v in scores.items() if isinstance(v, Mapping)}
    flat = [[k, v] for k, v in scores.items() if not isinstance(v, Mapping)]
    if flat:
        lines += _table(["score", "value"], flat)
    for score, per_variable in nested.items():
        lines += ["", f"{score}:", ""]
        lines += _table(["variable", "value"], [[k, v] for k, v in per_variable.items()])
    return lines


def _provenance_section(metadata: Mapping[str, Any]) -> list[str]:
    record = metadata.get("provenance") or {}
    git = record.get("git") or {}
    versions = {**record.get("wx", {}), **record.get("dependencies", {})}
    lines = [
        "## Provenance",
        "",
        f"- checkpoint format: {metadata['format']} version {metadata['format_version']}",
        f"- created: {record.get('created', NOT_RECORDED)}",
        f"- git commit: {git.get('commit', NOT_RECORDED)}"
        + (" (uncommitted changes)" if git.get("dirty") else ""),
        f"- python: {record.get('python', NOT_RECORDED)}",
        f"- checksum (sha256): {(metadata.get('checksum') or {}).get('value', NOT_RECORDED)}",
    ]
    if versions:
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    return lines


def model_card(metadata: Mapping[str, Any]) -> str:
    """The Markdown model card of a checkpoint header."""
    arguments = metadata["model"]["arguments"]
    title = metadata.get("name") or f"wx {arguments['family']} forecaster"
    licence = metadata.get("licence") or metadata.get("license") or "_not stated_"
    lines = [f"# {title}", ""]
    if metadata.get("description"):
        lines += [str(metadata["description"]), ""]
    lines += [
        f"An encoder-processor-decoder `{arguments['family']}` model predicting the state "
        f"{metadata['time_step']} ahead from {metadata['input_steps']} input step(s). "
        "Load it with `wx_models.load_checkpoint(path)`.",
        "",
        f"**Licence:** {licence}",
        "",
    ]
    if metadata.get("intended_use"):
        lines += ["## Intended use", "", str(metadata["intended_use"]), ""]
    for section in (
        _variables_section,
        _grid_section,
        _training_section,
        _configuration_section,
        _validation_section,
        _provenance_section,
    ):
        lines += [*section(metadata), ""]
    return "\n".join(lines)
