"""Sentences about real labeled scenes; what the models are unsure of is left unsaid."""

from __future__ import annotations

import numpy as np
import pytest
from scene_data import BOY_ON_COUCH, STANDING_MAN, labeled_photo, lying_down

from face_perception.core.errors import ConfigError
from face_perception.core.scene.sentence import SentenceConfig, person_sentence, scene_sentence
from face_perception.core.scene.types import Person
from face_perception.core.types import (
    EMOTION_LABELS,
    GENDER_LABELS,
    Box,
    Classification,
    Detection,
    Eyewear,
    FaceResult,
)

CONFIG = SentenceConfig()


def _face(gender: str, gender_score: float, age: float, emotion: str, emotion_score: float, glasses=False, size=60):
    rest = (1.0 - emotion_score) / (len(EMOTION_LABELS) - 1)
    emotions = np.array([emotion_score if e == emotion else rest for e in EMOTION_LABELS])
    genders = np.array([gender_score if g == gender else 1 - gender_score for g in GENDER_LABELS])
    return FaceResult(
        Detection(Box(0, 0, size, size), 0.99, np.zeros((5, 2), np.float32)),
        emotion=Classification.from_probabilities(EMOTION_LABELS, emotions),
        gender=Classification.from_probabilities(GENDER_LABELS, genders),
        age=age,
        eyewear=Eyewear(0.9 if glasses else 0.1, glasses),
    )


def test_an_elderly_woman_lying_on_the_floor_who_looks_sad():
    fallen = lying_down(labeled_photo(STANDING_MAN))
    person = Person(fallen.observations("lying")[0], face=_face("female", 0.95, 71.0, "sad", 0.8), track_id=1)
    assert person_sentence(person, fallen.objects, CONFIG) == (
        "a woman, about 70, is lying on the floor next to a car; she looks sad"
    )


def test_unsure_or_missing_attributes_are_not_guessed():
    scene = labeled_photo(STANDING_MAN)
    observation = scene.observations("standing")[0]
    no_face = Person(observation, track_id=1)
    assert scene_sentence([no_face], scene.objects, {}, CONFIG) == "A person is standing next to a car."
    unsure = Person(observation, face=_face("male", 0.6, 34.0, "fear", 0.3), track_id=1)
    assert person_sentence(unsure, scene.objects, CONFIG) == "a person, about 35, is standing next to a car"
    tiny = Person(observation, face=_face("male", 0.99, 34.0, "sad", 0.9, size=24), track_id=1)
    assert person_sentence(tiny, scene.objects, CONFIG) == "a person is standing next to a car"
    glasses = Person(observation, face=_face("male", 0.99, 41.0, "neutral", 0.9, glasses=True), track_id=1)
    assert person_sentence(glasses, [], CONFIG) == "a man with glasses, about 40, is standing"


def test_sitting_on_a_couch_children_and_alert_notes():
    couch = labeled_photo(BOY_ON_COUCH)
    boy = Person(couch.observations("sitting")[0], face=_face("male", 0.9, 5.2, "happy", 0.7), track_id=3)
    assert scene_sentence([boy], couch.objects, {}, CONFIG) == "A boy, about 5, is sitting on a couch; he looks happy."
    fallen = lying_down(labeled_photo(STANDING_MAN))
    person = Person(fallen.observations("lying")[0], track_id=4)
    text = scene_sentence([person], fallen.objects, {4: "seems to have fallen"}, CONFIG)
    assert text == "A person is lying on the floor next to a car and seems to have fallen."


def test_several_people_objects_only_and_nothing():
    crowd = labeled_photo("000000227000.jpg")
    people = [Person(o, track_id=i + 1) for i, o in enumerate(crowd.observations("standing"))]
    text = scene_sentence(people, crowd.objects, {}, SentenceConfig(max_people=2))
    assert text.startswith("Two people are standing") and text.endswith("1 more person is in view.")
    assert text.count("; ") == 1  # the two unnamed standing people are said once
    assert scene_sentence([], labeled_photo(BOY_ON_COUCH).objects, {}, CONFIG).startswith("No one is in view; I see a")
    assert scene_sentence([], [], {}, CONFIG) == "No one is in view."


def test_sentence_config_names_the_bad_parameter():
    with pytest.raises(ConfigError, match="sentence.min_gender_score"):
        SentenceConfig(min_gender_score=0.2).validate()


def test_identical_unnamed_people_are_said_once_with_their_number():
    from face_perception.core.scene.sentence import _group_anonymous

    clauses = ["a person is sitting next to a table", "a woman is standing", "a person is sitting next to a table"]
    assert _group_anonymous(clauses) == ["two people are sitting next to a table", "a woman is standing"]
    assert _group_anonymous(["a person is standing; they look sad"] * 2) == ["a person is standing; they look sad"] * 2
