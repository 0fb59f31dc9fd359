"""The commands' ``--config``: a node parameters file, read for the pipeline, with typos named."""

from __future__ import annotations

import logging
from pathlib import Path

from face_perception.core.config import PipelineConfig, load_parameters_yaml

LOG = logging.getLogger("face_perception")


def node_parameter_names() -> set[str]:
    """Every name the face and scene nodes declare; empty where ROS 2 is not installed."""
    try:
        from face_perception.ros import params, scene_params
    except ImportError:
        return set()
    return set(params.parameter_defaults()) | set(scene_params.parameter_defaults())


def load_config(path: Path | None) -> PipelineConfig:
    """The pipeline configuration of ``path`` (the defaults when None).

    Names that neither the pipeline nor either node knows are ignored, as a node ignores them, and
    named in a warning so that a typo does not pass unseen.

    Raises:
        ConfigError: the file cannot be read, or a value has the wrong type or is out of range.
    """
    if path is None:
        return PipelineConfig().validate()
    params = load_parameters_yaml(path)
    known = node_parameter_names()  # the pipeline's names among them
    if known and (unknown := sorted(set(params) - known)):
        LOG.warning("%s: ignored (not parameters of the nodes): %s", path, ", ".join(unknown))
    return PipelineConfig.from_parameters(params)
