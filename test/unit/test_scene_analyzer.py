"""The analyzer on real photos: the face pipeline's faces attached to labeled people, tracks, alerts, sentence."""

from __future__ import annotations

import pytest
from scene_data import STANDING_MAN, LabeledPeople, fall_sequence, labeled_photo

from face_perception.core.errors import ConfigError
from face_perception.core.scene.analyzer import ExternalFaces, SceneAnalyzer, attach_faces
from face_perception.core.scene.config import SceneConfig, load_scene_config
from face_perception.core.scene.types import SceneResult


def test_faces_found_by_the_pipeline_go_to_the_right_people(pipeline):
    family = labeled_photo("000000000790.jpg")  # a family at a table: four labeled people, three faces found
    observations = family.observations("sitting")
    faces = pipeline.process(family.image).faces
    matches = attach_faces(observations, faces, 0.3)
    assert sum(m is not None for m in matches) == len(faces) >= 2
    for observation, match in zip(observations, matches, strict=True):
        if match is None:
            continue
        nose = observation.keypoints[0]
        box = faces[match].detection.box
        assert nose[2] > 0 and box.x_min <= nose[0] <= box.x_max and box.y_min <= nose[1] <= box.y_max


def test_a_photo_is_described_with_its_face(pipeline):
    woman = labeled_photo("000000084533.jpg")  # "A woman dressed in leather poses on a motorcycle."
    analyzer = SceneAnalyzer(SceneConfig(), LabeledPeople([(woman, "sitting")]), pipeline)
    result = analyzer.analyze(woman.image)
    assert isinstance(result, SceneResult) and len(result.people) == 1
    person = result.people[0]
    assert person.face is not None and person.face.gender.label == "female"
    assert result.description.startswith("A woman is riding a motorcycle. She is about ")
    assert (result.image_width, result.image_height) == (640, 480) and result.alerts == []


def test_a_fall_sequence_raises_then_clears_the_fall_and_names_it_in_the_sentence():
    frames = fall_sequence(fps=2.0, upright_s=2.0, lying_s=14.0, up_again_s=4.0)
    analyzer = SceneAnalyzer(SceneConfig(), LabeledPeople([(f.scene, f.posture) for f in frames]))
    results = [analyzer.analyze(f.scene.image, f.time_s) for f in frames]
    first_down = next(i for i, f in enumerate(frames) if f.posture == "lying")
    assert [a.type for a in results[first_down].alerts] == ["fall"]
    assert "seems to have fallen" in results[first_down].description
    assert {a.type for a in results[first_down + 20].alerts} >= {"fall", "lying_on_floor"}
    cleared = [a for r in results for a in r.changed_alerts if not a.active]
    assert {a.type for a in cleared} >= {"fall", "lying_on_floor"} and results[-1].alerts == []
    assert {p.track_id for r in results for p in r.people} == {1}


def test_faces_given_from_outside_keep_their_ids(pipeline):
    scene = labeled_photo(STANDING_MAN)
    faces = pipeline.process(scene.image).faces
    analyzer = SceneAnalyzer(SceneConfig(), LabeledPeople([(scene, "standing")]))
    result = analyzer.analyze(scene.image, 1.0, ExternalFaces(faces, [42] * len(faces)))
    assert result.people[0].face_id == 42


def test_captioner_hook_adds_the_caption_and_caption_alerts():
    scene = labeled_photo(STANDING_MAN)

    class WordCaptioner:  # a captioner answering from the photo's own COCO caption
        def caption(self, image_bgr):
            return "A man talking on a phone standing behind a blue car."

    def findings(caption: str):
        return [("phone", 0.6)] if "phone" in caption else []

    analyzer = SceneAnalyzer(
        SceneConfig(), LabeledPeople([(scene, "standing")]), captioner=WordCaptioner(), caption_alerts=findings
    )
    result = analyzer.analyze(scene.image)
    assert result.caption.startswith("A man talking") and "(A man talking" in result.description
    assert [a.type for a in result.alerts] == ["caption"]


def test_scene_parameters_round_trip_and_name_bad_values(tmp_path):
    params = SceneConfig().to_parameters()
    assert {"scene.rate_hz", "alerts.lying_min_s", "person_tracking.max_missing_s", "sentence.max_people"} <= set(
        params
    )
    assert SceneConfig.from_parameters(params) == SceneConfig()
    with pytest.raises(ConfigError, match="alerts.lying_min_s"):
        SceneConfig.from_parameters({"alerts.lying_min_s": -3.0})
    with pytest.raises(ConfigError, match="scene.rate_hz"):
        SceneConfig.from_parameters({"scene.rate_hz": "fast"})
    yaml_file = tmp_path / "scene.yaml"
    yaml_file.write_text("/**:\n  ros__parameters:\n    alerts:\n      lying_min_s: 20.0\n")
    assert load_scene_config(yaml_file).alerts.lying_min_s == 20.0


def test_a_replay_that_loops_clears_alerts_and_reuses_no_id():
    frames = fall_sequence(fps=2.0, upright_s=2.0, lying_s=4.0, up_again_s=0.0)
    analyzer = SceneAnalyzer(SceneConfig(), LabeledPeople([(f.scene, f.posture) for f in frames]))
    first = [analyzer.analyze(f.scene.image, f.time_s) for f in frames]
    assert [a.type for a in first[-1].alerts] == ["fall"]
    again = [analyzer.analyze(f.scene.image, f.time_s) for f in frames]  # stamps start over
    assert [(a.type, a.active) for a in again[0].changed_alerts] == [("fall", False)]
    assert again[0].alerts == []
    old_fall, new_fall = first[-1].alerts[0], again[-1].alerts[0]
    assert new_fall.type == "fall" and new_fall.alert_id > old_fall.alert_id
    assert again[0].people[0].track_id > first[-1].people[0].track_id
