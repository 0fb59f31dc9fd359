"""Shared fixtures: project paths, the shared data folder (skipped when absent), one pipeline."""

from __future__ import annotations

import os

import pytest
from helpers import SAMPLES

# Any test that starts ROS keeps DDS discovery on this machine, in a domain of its own.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 90))


@pytest.fixture(scope="session")
def pipeline():
    from face_perception.core.config import PipelineConfig
    from face_perception.core.pipeline import FacePipeline

    return FacePipeline(PipelineConfig())


@pytest.fixture(scope="session")
def astronaut():
    from face_perception.core.images import read_image

    return read_image(SAMPLES / "astronaut.jpg")


@pytest.fixture(scope="session")
def rocket():
    from face_perception.core.images import read_image

    return read_image(SAMPLES / "rocket.jpg")
