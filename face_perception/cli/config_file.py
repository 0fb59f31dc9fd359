"""The commands' ``--config``: a node parameters file, read for the pipeline, with typos named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from face_perception.core.config import PipelineConfig, load_pipeline_config


def node_parameter_names() -> set[str]:
    """Every name the face and scene nodes declare; empty where ROS 2 is not installed."""
    try:
        from face_perception.ros import params, scene_params
    except ImportError:
        return set()
    return set(params.parameter_defaults()) | set(scene_params.parameter_defaults())


def load_config(path: Path | None) -> PipelineConfig:
    """The pipeline configuration of ``path`` (the defaults when None); names neither node declares
    are named in a warning.

    Raises:
        ConfigError: the file cannot be read, or a value has the wrong type or is out of range.
    """
    return load_pipeline_config(path, node_parameter_names() if path is not None else ())


def with_gallery(config: PipelineConfig, gallery: Path | None) -> PipelineConfig:
    """The configuration with ``identity.gallery`` set by a command's ``--gallery`` (unchanged when None).

    Raises:
        GalleryError: the gallery file does not exist (enrol someone first).
    """
    if gallery is None:
        return config
    if not gallery.is_file():
        from face_perception.core.errors import GalleryError

        raise GalleryError(f"gallery {gallery} does not exist (face-perception identity enroll creates it)")
    return dataclasses.replace(config, identity=dataclasses.replace(config.identity, gallery=str(gallery))).validate()
