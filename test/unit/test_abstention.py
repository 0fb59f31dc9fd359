"""Gender abstention: per frame, on the tracker's smoothed values, in messages; its parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import ROOT, shared

from face_perception.core.config import GenderConfig, PipelineConfig, load_parameters_yaml
from face_perception.core.errors import ConfigError
from face_perception.core.images import read_image
from face_perception.core.message_fields import face_fields
from face_perception.core.pipeline import FacePipeline
from face_perception.core.tracker import FaceTracker, TrackerConfig
from face_perception.core.types import Box, Detection, FaceResult, GenderAbstention, GenderResult


def test_decision_rules():
    rule = GenderAbstention(min_score=0.9, min_age_years=13.0)
    sure_adult = GenderResult.decide(0.97, 30.0, rule)
    assert (sure_adult.label, sure_adult.score) == ("male", pytest.approx(0.97))
    unsure = GenderResult.decide(0.15, 30.0, rule)  # female at 0.85 < 0.9
    assert unsure.label == "" and math.isnan(unsure.score) and not unsure.answered
    assert unsure.scores["female"] == pytest.approx(0.85)  # the probabilities stay for smoothing
    child = GenderResult.decide(0.02, 6.0, rule)  # female at 0.98, but apparently 6 years old
    assert child.label == "" and math.isnan(child.score)
    assert GenderResult.decide(0.02, None, rule).label == "female"  # no age head: the score rule alone
    assert GenderResult.decide(float("nan"), 30.0, rule).label == ""


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"gender.min_score": 0.3}, "gender.min_score"),
        ({"gender.min_score": 1.2}, "gender.min_score"),
        ({"gender.min_age_years": -1.0}, "gender.min_age_years"),
        ({"gender.min_age_years": "ten"}, "gender.min_age_years"),
    ],
)
def test_parameters_are_validated_by_name(params, message):
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_parameters(params)


def test_parameters_reach_the_config_and_the_shipped_file():
    config = PipelineConfig.from_parameters({"gender.min_score": 0.6, "gender.min_age_years": 0})
    gender = config.heads["gender"]
    assert isinstance(gender, GenderConfig) and gender.abstention == GenderAbstention(0.6, 0.0)
    shipped = load_parameters_yaml(ROOT / "config" / "face_perception.yaml")
    defaults = GenderConfig(enabled=True, model="gender_dlib_v1")
    assert shipped["gender.min_score"] == defaults.min_score
    assert shipped["gender.min_age_years"] == defaults.min_age_years


def _children_and_adults(count: int) -> tuple[list, list]:
    files = sorted(shared("utkface", "dev").glob("*.jpg"))
    children = [p for p in files if int(p.name.split("_")[0]) <= 3][:count]
    adults = [p for p in files if 25 <= int(p.name.split("_")[0]) <= 50][:count]
    return children, adults


def test_young_children_from_utkface_dev_get_no_gender():
    children, adults = _children_and_adults(8)
    heads = {"emotion.enabled": False, "eyeglasses.enabled": False}
    pipeline = FacePipeline(PipelineConfig.from_parameters({**heads, "gender.min_score": 0.5}))  # age rule alone
    faces = pipeline.process_crops([read_image(p) for p in children + adults])
    for path, face in zip(children, faces[: len(children)], strict=True):
        fields = face_fields(face, face, 1)
        assert fields["gender"] == "" and math.isnan(fields["gender_score"]), path.name
        assert fields["age"] < 13 and face.gender.scores["male"] == pytest.approx(1 - face.gender.scores["female"])
    answered = [face.gender.answered for face in faces[len(children) :]]
    assert sum(answered) >= len(adults) - 1  # confident adults do get an answer


def test_low_confidence_adult_gets_no_gender_and_default_config_answers_confident_adults():
    _, adults = _children_and_adults(12)
    heads = {"emotion.enabled": False, "eyeglasses.enabled": False}
    faces = FacePipeline(PipelineConfig.from_parameters(heads)).process_crops([read_image(p) for p in adults])
    confidence = np.array([max(f.gender.scores.values()) for f in faces])
    answered = np.array([f.gender.answered for f in faces])
    default = GenderConfig(enabled=True, model="gender_dlib_v1")
    np.testing.assert_array_equal(answered, confidence >= default.min_score)
    strict = FacePipeline(PipelineConfig.from_parameters({**heads, "gender.min_score": 1.0}))
    assert not any(f.gender.answered for f in strict.process_crops([read_image(p) for p in adults]))


def _face(male_probability: float, age: float, rule: GenderAbstention) -> FaceResult:
    landmarks = np.array([[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]], np.float32)
    return FaceResult(
        detection=Detection(Box(0.0, 0.0, 40.0, 50.0), 0.99, landmarks),
        gender=GenderResult.decide(male_probability, age, rule),
        age=age,
    )


def test_tracker_smooths_probabilities_and_abstains_on_the_smoothed_value():
    rule = GenderAbstention(min_score=0.9, min_age_years=13.0)
    tracker = FaceTracker(TrackerConfig(min_hits=1, smoothing_tau_s=0.5))
    # a confident adult for a second, then one frame the other way: the smoothed value drops under
    # min_score for a moment (no answer), while the raw field carries that frame's own answer
    frames = [0.98] * 10 + [0.05] + [0.98] * 10
    smoothed, raw = [], []
    for index, p_male in enumerate(frames):
        tracked, _ = tracker.update([_face(p_male, 35.0, rule)], index * 0.1)
        fields = face_fields(tracked[0].raw, tracked[0].smoothed, tracked[0].track_id)
        smoothed.append(fields["gender"])
        raw.append(fields["raw_gender"])
    assert smoothed[:10] == ["male"] * 10 and raw[10] == "female"
    assert smoothed[10] == ""  # smoothed P(male) fell under 0.9: says nothing rather than flip
    assert smoothed[-1] == "male"
    # the age rule applies to the smoothed age: a child read once as 30 stays unanswered
    tracker = FaceTracker(TrackerConfig(min_hits=1, smoothing_tau_s=0.5))
    ages = [5.0] * 10 + [30.0]
    answers = [tracker.update([_face(0.99, a, rule)], i * 0.1)[0][0].smoothed.gender.label for i, a in enumerate(ages)]
    assert answers == [""] * 11
