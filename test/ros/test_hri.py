"""REP-155 output (hri.enabled) against a real hri_msgs build, on real 640x480 frames.

hri_msgs is not part of the project's environment: build it outside the repository
(``bash scripts/build_hri_msgs.sh WORKSPACE``) and point FACE_PERCEPTION_HRI_PREFIX at
WORKSPACE/install. hri_probe.py runs the node and a plain rclpy subscriber in a process whose
environment holds that build, and prints what both saw; the checks are here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from face_perception.core import rep155

PREFIX_VARIABLE = "FACE_PERCEPTION_HRI_PREFIX"
PROBE = Path(__file__).resolve().parent / "hri_probe.py"


def _hri_environment() -> dict[str, str]:
    """The environment with the hri_msgs install prefix added; skips when there is none."""
    prefix = os.environ.get(PREFIX_VARIABLE, "")
    if not prefix:
        pytest.skip(f"{PREFIX_VARIABLE} is not set: build hri_msgs with scripts/build_hri_msgs.sh and set it")
    packages = sorted(Path(prefix).glob("lib/python3*/site-packages/hri_msgs"))
    if not packages:
        pytest.skip(f"{PREFIX_VARIABLE}={prefix} holds no hri_msgs Python package (lib/python3*/site-packages)")
    env = dict(os.environ)

    def prepend(name: str, value: str) -> None:
        env[name] = value + (os.pathsep + env[name] if env.get(name) else "")

    prepend("PYTHONPATH", str(packages[0].parent))
    prepend("LD_LIBRARY_PATH", str(Path(prefix) / "lib"))
    prepend("AMENT_PREFIX_PATH", prefix)
    return env


def _probe(kind: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(PROBE), kind], capture_output=True, text=True, timeout=600, env=_hri_environment()
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _normalized(box: list[float], width: int, height: int) -> list[float]:
    x0, y0, x1, y1 = box
    return [min(1.0, max(0.0, v)) for v in (x0 / width, y0 / height, x1 / width, y1 / height)]


@pytest.fixture(scope="module")
def faces_run() -> dict:
    return _probe("faces")


def test_face_ids_regions_and_expressions_agree_with_the_face_array(faces_run):
    frames = {f["stamp"]: f for f in faces_run["frames"]}
    seen_ids = {face["id"] for f in faces_run["frames"] for face in f["items"]}
    assert seen_ids == {1}, "one face, one track, in the astronaut frames"
    assert set(faces_run["per_id"]) == {"f0001"}
    checked = {"roi": 0, "expression": 0, "softbiometrics": 0, "cropped": 0, "aligned": 0}
    for record in faces_run["per_id"]["f0001"]:
        frame = frames[record["stamp"]]
        face = next(f for f in frame["items"] if rep155.face_id(f["id"]) == "f0001")
        checked[record["topic"]] += 1
        if record["topic"] == "roi":
            assert record["roi"] == pytest.approx(_normalized(face["box"], frame["width"], frame["height"]), abs=1e-6)
            assert record["c"] == pytest.approx(face["score"], abs=1e-6)
        elif record["topic"] == "expression":
            assert record["expression"] == rep155.EXPRESSIONS[face["emotion"]]
            assert record["c"] == pytest.approx(face["emotion_score"], abs=1e-6)
        elif record["topic"] == "softbiometrics":
            assert record["age"] == round(face["age"])
            expected = rep155.GENDERS.get(face["gender"], rep155.GENDER_UNDEFINED)
            assert record["gender"] == expected
        elif record["topic"] == "cropped":  # the box cut from the frame
            x0, y0, x1, y1 = face["box"]
            assert abs(record["width"] - (x1 - x0)) <= 2 and abs(record["height"] - (y1 - y0)) <= 2
        elif record["topic"] == "aligned":
            assert (record["width"], record["height"]) == (128, 128)
    assert all(count >= 3 for count in checked.values()), checked


def test_tracked_lists_the_face_while_its_track_lives_and_its_topics_end_with_it(faces_run):
    frames = {f["stamp"]: f for f in faces_run["frames"]}
    for message in faces_run["tracked"]:
        ids_in_frame = {rep155.face_id(face["id"]) for face in frames[message["stamp"]]["items"]}
        assert ids_in_frame <= set(message["ids"])  # a face seen now is tracked (a live track may be unseen)
    first_with_face = next(f["stamp"] for f in faces_run["frames"] if f["items"])
    assert any(m["ids"] == ["f0001"] and m["stamp"] >= first_with_face for m in faces_run["tracked"])
    last = faces_run["frames"][-1]["stamp"]
    assert [m["ids"] for m in faces_run["tracked"] if m["stamp"] == last] == [[]]
    assert faces_run["publishers_after_end"] == {"f0001": 0}


def test_body_regions_and_skeletons_agree_with_the_scene():
    run = _probe("bodies")
    frames = {f["stamp"]: f for f in run["frames"]}
    assert {p["id"] for f in run["frames"] for p in f["items"]} == {1}
    records = run["per_id"]["b0001"]
    assert {r["topic"] for r in records} == {"roi", "skeleton2d"}
    for record in records:
        frame = frames[record["stamp"]]
        person = next(p for p in frame["items"] if p["id"] == 1)
        width, height = frame["width"], frame["height"]
        if record["topic"] == "roi":
            assert record["roi"] == pytest.approx(_normalized(person["box"], width, height), abs=1e-6)
            assert record["c"] == pytest.approx(person["score"], abs=1e-6)
        else:
            joints = record["joints"]
            assert len(joints) == len(rep155.SKELETON_JOINTS)
            nose = person["keypoints"][0]
            assert joints[0] == pytest.approx([nose[0] / width, nose[1] / height, nose[2]], abs=1e-5)
    face_ids = {p["face_id"] for f in run["frames"] for p in f["items"] if p["face_id"]}
    assert face_ids, "the astronaut's face is matched to her body"
    expected = {(rep155.face_id(i), "b0001") for i in face_ids}
    assert {(m["id1"], m["id2"]) for m in run["matches"]} == expected
    assert all(m["c"] == 1.0 for m in run["matches"])


def test_without_hri_msgs_configure_fails_and_says_what_is_missing():
    import importlib.util

    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from face_perception.ros.node import FacePerceptionNode
    from face_perception.ros.scene_node import SceneNode

    if importlib.util.find_spec("hri_msgs") is not None:
        pytest.skip("hri_msgs is importable in this environment")
    for make in (FacePerceptionNode, SceneNode):
        node = make(parameter_overrides=[Parameter("hri.enabled", value=True)])
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
            assert node.state == "unconfigured"
            assert "hri.enabled is true but hri_msgs cannot be imported" in node.last_transition_error
            assert "hri.enabled to false" in node.last_transition_error
        finally:
            node.destroy_node()


def test_hri_needs_tracking_so_ids_stay_stable():
    from rclpy.parameter import Parameter

    from face_perception.core.errors import ConfigError
    from face_perception.ros.node import FacePerceptionNode

    overrides = [Parameter("hri.enabled", value=True), Parameter("tracking.enabled", value=False)]
    with pytest.raises(ConfigError, match="hri.enabled needs tracking.enabled"):
        FacePerceptionNode(parameter_overrides=overrides)
