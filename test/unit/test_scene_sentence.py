"""Caption-style sentences from typed scenes (people with postures, objects, faces) and from labeled photos;
what the models are unsure of is left unsaid."""

from __future__ import annotations

import numpy as np
import pytest
from scene_data import BOY_ON_COUCH, STANDING_MAN, labeled_photo, lying_down

from face_perception.core.errors import ConfigError
from face_perception.core.scene.sentence import (
    PLACES,
    SentenceConfig,
    caption_sentence,
    counted,
    detail_sentences,
    plural,
    scene_place,
    scene_sentence,
)
from face_perception.core.scene.types import KEYPOINT_NAMES, ObjectDetection, Person, PersonObservation
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
K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def _face(gender: str, gender_score: float, age: float, emotion: str = "neutral", emotion_score: float = 0.9, **kw):
    size, glasses = kw.get("size", 60), kw.get("glasses", False)
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


def _person(box: tuple[float, float, float, float], posture: str, face=None, track_id=1, **points) -> Person:
    """A person in a 640x480 frame; keypoints not given are unseen (score 0)."""
    keypoints = np.zeros((17, 3), np.float32)
    for name, (x, y) in points.items():
        keypoints[K[name]] = (x, y, 0.9)
    return Person(PersonObservation(Box(*box), 0.9, keypoints, posture, 0.9), face=face, track_id=track_id)


def _object(label: str, box: tuple[float, float, float, float], score: float = 0.8) -> ObjectDetection:
    return ObjectDetection(label, score, Box(*box))


def test_one_person_is_named_from_a_confident_face_and_said_with_the_posture():
    man = _person((250, 60, 370, 460), "standing", _face("male", 0.97, 41.0))
    assert caption_sentence([man], [], CONFIG) == "A man is standing."
    assert scene_sentence([man], [], {}, CONFIG) == "A man is standing. He is about 40."
    girl = _person((250, 200, 330, 400), "standing", _face("female", 0.95, 7.0, "happy", 0.8))
    assert scene_sentence([girl], [], {}, CONFIG) == "A girl is standing. She is about 7 and looks happy."
    child = _person((250, 200, 330, 400), "sitting", _face("male", 0.6, 6.0))
    assert caption_sentence([child], [], CONFIG) == "A child is sitting."


def test_unsure_or_missing_attributes_are_not_guessed():
    unsure = _person((250, 60, 370, 460), "standing", _face("male", 0.6, 34.0, "fear", 0.3))
    assert scene_sentence([unsure], [], {}, CONFIG) == "A person is standing. The person is about 35."
    tiny = _person((250, 60, 370, 460), "standing", _face("male", 0.99, 34.0, "sad", 0.9, size=24))
    assert scene_sentence([tiny], [], {}, CONFIG) == "A person is standing."
    glasses = _person((250, 60, 370, 460), "standing", _face("female", 0.99, 68.0, glasses=True))
    assert detail_sentences([glasses], [], {}, CONFIG) == "She is about 70 and wears glasses."
    assert caption_sentence([_person((250, 60, 370, 460), "unknown")], [], CONFIG) == "A person is in the picture."


def test_lying_is_on_the_bed_or_couch_under_the_person_else_on_the_floor():
    woman = _person((100, 200, 500, 330), "lying", _face("female", 0.95, 30.0))
    bed = _object("bed", (60, 180, 560, 420))
    assert caption_sentence([woman], [bed], CONFIG) == "A woman is lying on a bed in a bedroom."
    man = _person((100, 360, 420, 470), "lying", _face("male", 0.95, 70.0))
    chair = _object("chair", (440, 250, 560, 470))
    assert caption_sentence([man], [chair], CONFIG) == "A man is lying on the floor next to a chair."
    text = scene_sentence([man], [chair], {1: "seems to have fallen"}, CONFIG)
    assert text == "A man is lying on the floor next to a chair. He is about 70 and seems to have fallen."


def test_people_are_counted_and_sit_on_the_couch_under_them():
    couch = _object("couch", (40, 200, 600, 460))
    two = [_person((80, 150, 250, 430), "sitting", track_id=1), _person((300, 140, 480, 440), "sitting", track_id=2)]
    assert caption_sentence(two, [couch], CONFIG) == "Two people are sitting on a couch in a living room."
    pair = [
        _person((80, 60, 200, 460), "standing", _face("male", 0.97, 35.0), track_id=1),
        _person((300, 70, 410, 460), "standing", _face("female", 0.97, 33.0), track_id=2),
    ]
    assert caption_sentence(pair, [], CONFIG) == "A man and a woman are standing."
    crowd = [_person((40 + 120 * i, 80, 140 + 120 * i, 460), "standing", track_id=i + 1) for i in range(5)]
    bus = _object("bus", (20, 20, 620, 300))
    assert caption_sentence(crowd, [bus], CONFIG) == "A group of people are standing next to a bus on a street."
    far = _person((600, 100, 612, 130), "standing", track_id=9)  # much smaller than the man: background
    assert caption_sentence([pair[0], far], [], CONFIG) == "A man is standing."


def test_people_at_a_table_and_the_posture_most_of_them_show():
    table = _object("dining table", (60, 260, 580, 470))
    people = [
        _person((40, 120, 200, 440), "sitting", track_id=1),
        _person((240, 100, 400, 400), "unknown", track_id=2),
        _person((430, 110, 600, 440), "sitting", track_id=3),
    ]
    assert caption_sentence(people, [table], CONFIG) == "A group of people are sitting at a table."


def test_a_wrist_inside_an_object_box_is_holding_it():
    phone = _object("cell phone", (330, 180, 360, 230))
    holder = _person((250, 60, 400, 460), "standing", left_wrist=(345, 205), right_wrist=(260, 300))
    assert caption_sentence([holder], [phone], CONFIG) == "A person is holding a phone."
    away = _person((250, 60, 400, 460), "standing", left_wrist=(270, 300), right_wrist=(260, 300))
    assert caption_sentence([away], [phone], CONFIG) == "A person is standing."
    sitter = _person((250, 200, 400, 460), "sitting", left_wrist=(345, 205))
    couch = _object("couch", (150, 250, 620, 470))
    assert caption_sentence([sitter], [phone, couch], CONFIG) == (
        "A person is sitting on a couch with a phone in a living room."
    )


def test_bikes_under_the_hips_and_boards_under_the_feet_are_ridden():
    rider = _person((250, 40, 400, 420), "sitting", left_hip=(320, 240), right_hip=(335, 245))
    bike = _object("bicycle", (200, 180, 460, 460))
    assert caption_sentence([rider], [bike], CONFIG) == "A person is riding a bike."
    skier = _person((250, 40, 380, 420), "standing", left_ankle=(300, 410), right_ankle=(330, 412))
    skis = _object("skis", (220, 400, 420, 430))
    assert caption_sentence([skier], [skis], CONFIG) == "A person is skiing."  # the snow goes without saying
    walker = _person((20, 40, 150, 420), "standing", left_hip=(80, 240), right_hip=(95, 245))
    assert caption_sentence([walker], [bike], CONFIG) == "A person is standing next to a bicycle."


def test_a_kite_in_the_scene_is_being_flown():
    flyer = _person((250, 200, 330, 460), "standing")
    kite = _object("kite", (420, 20, 470, 70))
    assert caption_sentence([flyer], [kite], CONFIG) == "A person is flying a kite."
    assert caption_sentence([], [kite], CONFIG) == "A kite is flying in the sky."


def test_scenes_without_people_are_said_by_their_main_objects():
    bed = _object("bed", (60, 180, 560, 420))
    dog = _object("dog", (200, 200, 400, 300))
    assert caption_sentence([], [bed, dog], CONFIG) == "A dog is lying on a bed in a bedroom."
    kitchen = [_object("oven", (100, 200, 300, 470)), _object("sink", (350, 250, 500, 300))]
    assert caption_sentence([], kitchen, CONFIG) == "A kitchen with an oven and a sink."
    zebras = [_object("zebra", (50, 100, 300, 400)), _object("zebra", (320, 120, 600, 420))]
    assert caption_sentence([], zebras, CONFIG) == "Two zebras are standing in a field."
    table = _object("dining table", (0, 150, 640, 480))
    setting = [table, _object("cup", (100, 200, 150, 260)), _object("cup", (400, 200, 450, 260))]
    setting.append(_object("bowl", (250, 300, 350, 360)))
    assert caption_sentence([], setting, CONFIG) == "A table with two cups and a bowl."
    vase = _object("vase", (280, 100, 340, 300))
    assert caption_sentence([], [vase, table], CONFIG) == "A table with a vase."
    cat = _object("cat", (250, 100, 350, 300))
    assert caption_sentence([], [cat, table], CONFIG) == "A cat is sitting on a table."
    bike = [_object("bicycle", (300, 250, 500, 400)), _object("traffic light", (520, 60, 560, 200))]
    assert caption_sentence([], bike, CONFIG) == "A bicycle next to a traffic light on a street."
    assert caption_sentence([], [_object("teddy bear", (0, 0, 200, 200))], CONFIG) == "A teddy bear is in the picture."
    assert scene_sentence([], [], {}, CONFIG) == "No one is in view."


def test_details_name_what_the_caption_leaves_out():
    man = _person((250, 60, 370, 460), "standing", _face("male", 0.97, 41.0, "sad", 0.8))
    chair = _object("chair", (380, 200, 520, 460))
    far = [_object("bench", (0, 300, 60, 340)), _object("cup", (10, 10, 30, 30)), _object("cup", (40, 10, 60, 30))]
    far.append(_object("chair", (600, 0, 640, 20)))  # a chair was said: another is not listed
    text = scene_sentence([man], [chair, *far], {}, CONFIG)
    assert text == (
        "A man is standing next to a chair. He is about 40 and looks sad. Also in view: a bench and two cups."
    )
    two = [
        _person((80, 60, 200, 460), "standing", _face("female", 0.97, 35.0, "happy", 0.9), track_id=1),
        _person((300, 70, 410, 460), "standing", _face("female", 0.97, 60.0), track_id=2),
    ]
    assert detail_sentences(two, [], {2: "may need help"}, CONFIG) == (
        "One woman is about 35 and looks happy. One woman is about 60 and may need help."
    )


def test_places_come_from_the_object_table():
    assert scene_place([_object("car", (0, 0, 10, 10))]) is None  # one car: no place yet
    assert scene_place([_object("car", (0, 0, 10, 10)), _object("car", (20, 0, 30, 10))]).name == "street"
    assert scene_place([_object("refrigerator", (0, 0, 10, 10))]).name == "kitchen"
    assert {p.name for p in PLACES} >= {"kitchen", "living room", "bedroom", "office", "street"}


def test_words():
    assert [plural(w) for w in ("bus", "knife", "sheep", "pair of skis", "person", "baby", "toy", "cup")] == [
        "buses",
        "knives",
        "sheep",
        "pairs of skis",
        "people",
        "babies",
        "toys",
        "cups",
    ]
    assert [counted("elephant", n) for n in (1, 2, 3)] == ["an elephant", "two elephants", "a group of elephants"]


def test_labeled_photos():
    man = labeled_photo(STANDING_MAN)
    person = Person(man.observations("standing")[0], track_id=1)
    assert caption_sentence([person], man.objects, CONFIG) == "A person is standing next to a car."
    couch = labeled_photo(BOY_ON_COUCH)
    boy = Person(couch.observations("sitting")[0], face=_face("male", 0.9, 5.2, "happy", 0.7), track_id=3)
    assert scene_sentence([boy], couch.objects, {}, CONFIG).startswith("A boy is sitting on a couch")
    fallen = lying_down(labeled_photo(STANDING_MAN))
    person = Person(fallen.observations("lying")[0], track_id=4)
    text = scene_sentence([person], fallen.objects, {4: "seems to have fallen"}, CONFIG)
    assert text.startswith("A person is lying on the floor next to a car.") and "seems to have fallen." in text


def test_sentence_config_names_the_bad_parameter():
    with pytest.raises(ConfigError, match="sentence.min_gender_score"):
        SentenceConfig(min_gender_score=0.2).validate()
