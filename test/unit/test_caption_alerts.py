"""Typed hazards from captions, on sentences of the kind image captioners write."""

from __future__ import annotations

import pytest

from face_perception.core.scene.caption_alerts import (
    HAZARD_KINDS,
    CaptionHazard,
    caption_findings,
    find_caption_hazards,
    strongest_by_kind,
)

ALARMING = [
    ("an old man lying on the floor next to a chair", {"fall"}),
    ("a woman laying on the kitchen floor", {"fall"}),
    ("a man with no shirt lying on the floor", {"fall"}),
    ("a person that has fallen down the stairs", {"fall"}),
    ("a skateboarder has fallen off his board", {"fall"}),
    ("an elderly woman collapsed in the hallway", {"fall"}),
    ("a house on fire with smoke coming out of the windows", {"fire"}),
    ("flames coming out of the roof of a building", {"fire"}),
    ("a kitchen filled with smoke", {"fire"}),
    ("a man with blood on his face", {"injury"}),
    ("an injured man being helped by paramedics", {"injury"}),
    ("a person holding a gun in a room", {"weapon"}),
    ("a man holding a knife in a dark alley", {"weapon"}),
    ("a man is bleeding and lying on the ground", {"injury", "fall"}),
    ("A MAN LYING ON THE GROUND NEXT TO A BIKE", {"fall"}),
]

HARMLESS = [
    "a dog lying on the floor of a living room",
    "a cat sleeping on the rug",
    "a man sitting on the floor playing video games",
    "a man is not lying on the floor",
    "a red fire hydrant on the side of a street",
    "firefighters standing next to a fire truck",
    "there is no fire in this room",
    "the building is not on fire",
    "a smoke detector on the ceiling",
    "a man smoking a cigarette",
    "a child playing with a water gun in the yard",
    "nobody is injured in the picture",
    "there are no signs of blood on the floor",
    "fallen leaves on the ground in a park",
    "a woman measuring blood pressure",
    "a baby crying on a bed",
    "a fireplace in a living room",
    "a woman lying on a couch reading a book",
    "",
    "   ",
]


@pytest.mark.parametrize(("caption", "kinds"), ALARMING)
def test_alarming_captions_give_their_kinds(caption: str, kinds: set[str]):
    hazards = find_caption_hazards(caption)
    assert {h.kind for h in hazards} == kinds
    for hazard in hazards:
        assert hazard.kind in HAZARD_KINDS
        assert caption[hazard.start : hazard.end] == hazard.phrase
        assert 0.5 <= hazard.score <= 1.0


@pytest.mark.parametrize("caption", HARMLESS)
def test_harmless_and_negated_captions_give_nothing(caption: str):
    assert find_caption_hazards(caption) == []


def test_whole_words_only():
    assert find_caption_hazards("a man giving a gunny sack to a bloodhound") == []
    assert find_caption_hazards("a knifelike rock near a campfire site") == []


def test_harmless_settings_lower_the_score():
    kitchen = strongest_by_kind(find_caption_hazards("a knife on a cutting board next to vegetables"))["weapon"]
    alley = strongest_by_kind(find_caption_hazards("a man holding a knife in a dark alley"))["weapon"]
    assert kitchen.score < alley.score
    hearth = strongest_by_kind(find_caption_hazards("a fire burning in a fireplace"))["fire"]
    house = strongest_by_kind(find_caption_hazards("a house with a fire burning on the roof"))["fire"]
    assert hearth.score < 0.5 < house.score


def test_no_person_named_lowers_a_fall():
    someone = find_caption_hazards("a man lying on the floor")[0]
    nobody = find_caption_hazards("lying on the floor in a dark room")[0]
    assert someone.kind == nobody.kind == "fall"
    assert nobody.score < someone.score


def test_negation_is_per_clause():
    hazards = find_caption_hazards("there is no fire, but a man is lying on the floor")
    assert [h.kind for h in hazards] == ["fall"]
    assert {h.kind for h in find_caption_hazards("no smoke, but flames on the stove top of a burning house")} == {
        "fire"
    }


def test_overlaps_keep_the_strongest_and_reading_order():
    hazards = find_caption_hazards("a house on fire and a man with blood on his shirt")
    assert [(h.kind, h.phrase) for h in hazards] == [("fire", "on fire"), ("injury", "blood")]
    assert hazards == sorted(hazards, key=lambda h: h.start)


def test_findings_are_frozen_and_pairs_for_the_scene_alerts():
    hazard = find_caption_hazards("a man lying on the floor")[0]
    assert isinstance(hazard, CaptionHazard)
    with pytest.raises(AttributeError):
        hazard.score = 0.0  # type: ignore[misc]
    assert caption_findings("A man lying on the floor") == [("lying on the floor", hazard.score)]
    assert caption_findings("a sunny beach") == []


def test_animals_lying_down_in_the_plural_are_no_fall():
    for caption in ("Horses are laying down in the grass.", "Two cows laying on a dirt ground."):
        assert [h for h in find_caption_hazards(caption) if h.kind == "fall"] == [], caption
