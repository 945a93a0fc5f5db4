"""Packaged configs compose and instantiate; bad keys, types and values fail naming the key."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from wx_training.cli import main
from wx_training.config import (
    CONF_DIR,
    ConfigError,
    compose_config,
    export_config,
    load_config_file,
    packaged_config_names,
    packaged_group_options,
)
from wx_training.schema import TrainingRunConfig

# packaged configs with a required ('???') key, and a value for it
REQUIRED = {"ncep_air_skill_rollout": ["fork.checkpoint=stage1/inference-last.safetensors"]}


@pytest.mark.parametrize("name", packaged_config_names())
def test_every_packaged_config_composes_and_instantiates(name):
    config = compose_config(REQUIRED.get(name, []), config_name=name)
    instance = OmegaConf.to_object(config)
    assert isinstance(instance, TrainingRunConfig)
    # Interpolations are resolved: the graph recipe reads the data nodes from the dataset.
    assert instance.graph.recipe["nodes"]["data"]["path"] == instance.data.dataset


def test_every_group_option_composes():
    options = packaged_group_options()
    assert set(options) == {"data", "graph", "model", "training", "hardware", "tracking"}
    # Each composition picks one option of every group, so all options are covered in a few.
    for round_ in range(max(len(names) for names in options.values())):
        chosen = {group: names[round_ % len(names)] for group, names in options.items()}
        config = compose_config([f"{group}={option}" for group, option in chosen.items()])
        assert isinstance(OmegaConf.to_object(config), TrainingRunConfig)
        packaged = OmegaConf.load(CONF_DIR / "tracking" / f"{chosen['tracking']}.yaml")
        assert config.tracking.enabled == packaged.enabled


def test_a_required_key_left_unset_is_an_error_not_the_schema_default():
    # the schema's default fork.checkpoint is null: the config's '???' must still be required
    with pytest.raises(ConfigError, match=r"config key\(s\) fork.checkpoint: required but not set"):
        compose_config(config_name="ncep_air_skill_rollout")
    config = compose_config(
        REQUIRED["ncep_air_skill_rollout"], config_name="ncep_air_skill_rollout"
    )
    assert config.fork.checkpoint == "stage1/inference-last.safetensors"
    assert config.training.rollout.start == 20 and config.model.latent_size == 64
    # stage 2 inherits stage 1's model: a climatology of the seasonal cycle alone
    assert config.model.climatology_harmonics == 1
    # resuming the fork run needs no source: the training checkpoint holds the weights
    resumed = compose_config(["resume=runs/stage2"], config_name="ncep_air_skill_rollout")
    assert resumed.fork.checkpoint is None and resumed.resume == "runs/stage2"


def test_named_example_configs_pick_their_groups():
    config = compose_config(["training.max_steps=7"], config_name="ncep_air_tiny")
    assert config.data.prognostic == ["air"] and config.model.latent_size == 32
    assert config.training.max_steps == 7
    assert config.graph.recipe.nodes.data.attributes.interior_mask.area == [
        65.0,
        210.0,
        25.0,
        320.0,
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["training.bogus=1"], "config key training.bogus: unknown key"),
        (["+training.optimizer.bogus=1"], "config key training.optimizer.bogus: unknown key"),
        (["training.batch_size=four"], "config key training.batch_size: Value 'four'"),
        (
            ["training.optimizer.lr=0"],
            "config key training.optimizer.lr: must be positive, got 0.0",
        ),
        (["training.optimizer.lr=-1e-3"], "config key training.optimizer.lr: must be positive"),
        (["training.batch_size=0"], "config key training.batch_size: must be positive, got 0"),
        (["training.batch_size=-2"], "config key training.batch_size: must be positive, got -2"),
        (
            ["hardware.gpus_per_model=0"],
            "config key hardware.gpus_per_model: must be positive, got 0",
        ),
        (
            ["model.trainable_features.data=-4"],
            "config key model.trainable_features.data: must not be negative, got -4",
        ),
        (["model.trainable_features.grid=4"], "config key model.trainable_features.grid: unknown"),
        (["model.family=rnn"], "config key model.family: 'rnn' is not one of gnn, transformer"),
        (["data.computed_forcings=[moonlight]"], r"unknown forcing\(s\) \['moonlight'\]"),
        (["data=nope"], "Could not find 'data/nope'"),
        (["graph.path=g.safetensors"], "set exactly one of graph.path"),
    ],
)
def test_bad_configs_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        compose_config(overrides)


def test_export_then_validate_and_train_from_the_copy(tmp_path, capsys):
    written = export_config(tmp_path / "conf")
    assert {path.relative_to(tmp_path / "conf") for path in written} == {
        path.relative_to(CONF_DIR) for path in CONF_DIR.rglob("*.yaml")
    }
    with pytest.raises(FileExistsError, match="not empty"):
        export_config(tmp_path / "conf")
    edited = tmp_path / "conf" / "training" / "tiny.yaml"
    edited.write_text(edited.read_text().replace("max_steps: 400", "max_steps: 123"))
    config = compose_config(["training=tiny"], config_dir=tmp_path / "conf")
    assert config.training.max_steps == 123
    assert main(["config", "validate", str(tmp_path / "conf" / "ncep_air_tiny.yaml")]) == 0
    assert main(["config", "validate", str(edited)]) == 0
    assert "an option of the 'training' group" in capsys.readouterr().out


def test_user_config_dir_falls_back_to_packaged_groups(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "defaults:\n  - config\n  - override data: ncep_air\n  - _self_\nname: mine\nseed: 7\n"
    )
    config = compose_config(config_name="mine", config_dir=tmp_path)
    assert (config.name, config.seed, config.data.prognostic) == ("mine", 7, ["air"])


def test_validate_reports_bad_files(tmp_path, capsys):
    bad_group = tmp_path / "data" / "x.yaml"
    bad_group.parent.mkdir()
    bad_group.write_text("dataset: d.zarr\nnum_wokers: 2\n")
    with pytest.raises(ConfigError, match="config key data.num_wokers: unknown key"):
        load_config_file(bad_group)
    assert main(["config", "validate", str(bad_group)]) == 2
    assert "data.num_wokers" in capsys.readouterr().err
    resolved = tmp_path / "run.yaml"
    resolved.write_text(OmegaConf.to_yaml(compose_config(["training.batch_size=3"])))
    assert load_config_file(resolved)[1] == "a complete config"
    resolved.write_text(resolved.read_text().replace("batch_size: 3", "batch_size: -3"))
    with pytest.raises(ConfigError, match="training.batch_size: must be positive, got -3"):
        load_config_file(resolved)


def test_print_config_shows_overrides(capsys):
    assert main(["train", "--print-config", "data=ncep_air", "training.max_steps=11"]) == 0
    printed = OmegaConf.create(capsys.readouterr().out)
    assert printed.training.max_steps == 11 and printed.data.name == "ncep-air-temperature"
