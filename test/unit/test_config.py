import pytest
import yaml
from helpers import ROOT

from face_perception.core.config import HEAD_NAMES, PipelineConfig, load_parameters_yaml, load_pipeline_config
from face_perception.core.errors import ConfigError
from face_perception.core.registry import HEAD_CLASSES

PARAMS_FILE = ROOT / "config" / "face_perception.yaml"


def test_shipped_parameters_file_gives_the_default_pipeline():
    assert load_pipeline_config(PARAMS_FILE) == PipelineConfig()


def test_every_pipeline_parameter_is_in_the_shipped_file():
    in_file = load_parameters_yaml(PARAMS_FILE)
    assert set(PipelineConfig().to_parameters()) <= set(in_file)


def test_registry_and_config_name_the_same_heads():
    assert set(HEAD_CLASSES) == set(HEAD_NAMES) == set(PipelineConfig().heads)


def test_round_trip_through_parameters():
    config = PipelineConfig.from_parameters({"detector.score_threshold": 0.5, "gender.enabled": False})
    assert config.detector.score_threshold == 0.5 and not config.heads["gender"].enabled
    assert PipelineConfig.from_parameters(config.to_parameters()) == config


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"detector.score_threshold": 1.5}, "out of range"),
        ({"detector.max_faces": 0}, "out of range"),
        ({"detector.max_faces": 2.5}, "must be a int"),
        ({"emotion.enabled": "yes"}, "must be a bool"),
        ({"max_image_side_px": 10}, "out of range"),
        ({"emotion.model": ""}, "must name a model"),
    ],
)
def test_bad_values_raise_config_error(params, message):
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_parameters(params)


def test_integers_are_accepted_for_floats():
    assert PipelineConfig.from_parameters({"detector.min_face_size_px": 20}).detector.min_face_size_px == 20.0


def test_parameters_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_parameters_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("face_perception: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_parameters_yaml(bad)
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"another_node": {"ros__parameters": {"x": 1}}}))
    with pytest.raises(ConfigError, match="no 'face_perception: ros__parameters:'"):
        load_parameters_yaml(other)
    wildcard = tmp_path / "wildcard.yaml"
    wildcard.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"detector": {"max_faces": 3}}}}))
    assert load_pipeline_config(wildcard).detector.max_faces == 3


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "config").glob("*.yaml")))
def test_every_shipped_parameters_file_applies_under_any_namespace(name):
    """A node name as the top key matches only that node outside any namespace: every file uses '/**'."""
    document = yaml.safe_load((ROOT / "config" / name).read_text())
    assert list(document) == ["/**"], f"config/{name}: top keys {list(document)}"
