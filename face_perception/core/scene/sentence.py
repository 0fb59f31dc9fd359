"""Plain-English sentences about a scene: people (posture, face attributes), objects, alerts.

What the models are unsure about is left out rather than guessed: no gender word below
``sentence.min_gender_score`` ("a person"), no age without a face, no emotion below
``sentence.min_emotion_score`` or when it is neutral, and nothing from a face smaller than
``sentence.min_face_size_px``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from face_perception.core.checks import check_ranges
from face_perception.core.scene.types import ObjectDetection, Person
from face_perception.core.types import Box, FaceResult

# Furniture a person can lie or sit on; lying on anything else counts as lying on the floor.
LYING_FURNITURE: tuple[str, ...] = ("bed", "couch")
SITTING_FURNITURE: tuple[str, ...] = ("bed", "couch", "chair", "bench", "toilet")
_EMOTION_WORDS = {
    "angry": "angry",
    "disgust": "disgusted",
    "fear": "afraid",
    "happy": "happy",
    "sad": "sad",
    "surprise": "surprised",
}
_OBJECT_WORDS = {
    "tv": "TV",
    "dining table": "table",
    "potted plant": "plant",
    "cell phone": "phone",
    "skis": "pair of skis",  # COCO's plural names take "a pair of"
    "scissors": "pair of scissors",
}
_NUMBER_WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(frozen=True)
class SentenceConfig:
    """Wording thresholds (parameters ``sentence.*``)."""

    min_gender_score: float = 0.8
    min_emotion_score: float = 0.5
    max_people: int = 4
    max_objects: int = 3
    furniture_min_overlap: float = 0.3
    min_face_size_px: float = 40.0

    def validate(self) -> SentenceConfig:
        check_ranges(
            {
                "sentence.min_gender_score": (self.min_gender_score, 0.5, 1.0),
                "sentence.min_emotion_score": (self.min_emotion_score, 0.0, 1.0),
                "sentence.max_people": (self.max_people, 1, 100),
                "sentence.max_objects": (self.max_objects, 0, 100),
                "sentence.furniture_min_overlap": (self.furniture_min_overlap, 0.0, 1.0),
                "sentence.min_face_size_px": (self.min_face_size_px, 0.0, 10000.0),
            }
        )
        return self


def with_article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def object_word(label: str) -> str:
    return _OBJECT_WORDS.get(label, label)


def overlap_share(box: Box, other: Box) -> float:
    """The share of ``box``'s area that ``other`` covers, 0 to 1."""
    width = min(box.x_max, other.x_max) - max(box.x_min, other.x_min)
    height = min(box.y_max, other.y_max) - max(box.y_min, other.y_min)
    area = max(box.width * box.height, 1e-9)
    return float(max(width, 0.0) * max(height, 0.0) / area)


def furniture_under(
    box: Box, objects: list[ObjectDetection], labels: tuple[str, ...], min_overlap: float
) -> ObjectDetection | None:
    """The piece of furniture (one of ``labels``) covering most of ``box``, if it covers ``min_overlap``."""
    best, best_share = None, min_overlap
    for obj in objects:
        if obj.label in labels:
            share = overlap_share(box, obj.box)
            if share >= best_share:
                best, best_share = obj, share
    return best


def nearest_object(box: Box, objects: list[ObjectDetection], exclude: ObjectDetection | None) -> ObjectDetection | None:
    """The non-person object closest to ``box`` (gap between boxes at most the box's larger side), if any.

    Small things (under a tenth of the box's area: what the person holds) are not landmarks.
    """
    area = box.width * box.height
    candidates = [
        o for o in objects if o.label != "person" and o is not exclude and o.box.width * o.box.height >= 0.1 * area
    ]
    if not candidates:
        return None
    boxes = np.array([o.box.as_list() for o in candidates])
    gap_x = np.maximum(0.0, np.maximum(boxes[:, 0] - box.x_max, box.x_min - boxes[:, 2]))
    gap_y = np.maximum(0.0, np.maximum(boxes[:, 1] - box.y_max, box.y_min - boxes[:, 3]))
    gaps = np.hypot(gap_x, gap_y)
    best = int(np.argmin(gaps))
    return candidates[best] if gaps[best] <= max(box.width, box.height) else None


def usable_face(person: Person, config: SentenceConfig) -> FaceResult | None:
    """The person's face when it is large enough for its attributes to be said, else None."""
    face = person.face
    if face is None or min(face.detection.box.width, face.detection.box.height) < config.min_face_size_px:
        return None
    return face


def person_phrase(person: Person, config: SentenceConfig) -> tuple[str, str]:
    """The noun phrase ("a woman with glasses, about 70,") and the pronoun ("she", "he", "they")."""
    face = usable_face(person, config)
    gender = ""
    if face is not None and face.gender is not None and face.gender.score >= config.min_gender_score:
        gender = face.gender.label
    age = None if face is None or face.age is None or np.isnan(face.age) else float(face.age)
    child = age is not None and age < 13
    noun = {
        ("female", False): "woman",
        ("male", False): "man",
        ("female", True): "girl",
        ("male", True): "boy",
        ("", True): "child",
    }.get((gender, child), "person")
    phrase = with_article(noun)
    if face is not None and face.eyewear is not None and face.eyewear.worn:
        phrase += " with glasses"
    if age is not None:
        phrase += f", about {int(5 * round(age / 5)) if age >= 13 else int(round(age))},"
    pronoun = {"female": "she", "male": "he"}.get(gender, "they")
    return phrase, pronoun


def emotion_word(person: Person, config: SentenceConfig) -> str:
    """The visible emotion as an adjective ("sad"), or "" when neutral, unknown or unsure."""
    face = usable_face(person, config)
    if face is None or face.emotion is None or face.emotion.score < config.min_emotion_score:
        return ""
    return _EMOTION_WORDS.get(face.emotion.label, "")


def posture_clause(person: Person, objects: list[ObjectDetection], config: SentenceConfig) -> str:
    """What the person is doing and where: "is lying on the floor next to a couch"."""
    observation = person.observation
    posture = observation.posture
    support = None
    if posture in ("lying", "sitting"):
        labels = LYING_FURNITURE if posture == "lying" else SITTING_FURNITURE
        support = furniture_under(observation.box, objects, labels, config.furniture_min_overlap)
    nearby = nearest_object(observation.box, objects, support)
    if posture == "lying":
        clause = f"is lying on {with_article(object_word(support.label))}" if support else "is lying on the floor"
    elif posture == "sitting":
        clause = f"is sitting on {with_article(object_word(support.label))}" if support else "is sitting"
    elif posture == "standing":
        clause = "is standing"
    else:
        clause = "is in view"
    if nearby is not None:
        clause += f" next to {with_article(object_word(nearby.label))}"
    return clause


def person_sentence(person: Person, objects: list[ObjectDetection], config: SentenceConfig) -> str:
    """One person's clause, lower case: "a woman, about 70, is lying on the floor; she looks sad"."""
    phrase, pronoun = person_phrase(person, config)
    text = f"{phrase} {posture_clause(person, objects, config)}"
    feeling = emotion_word(person, config)
    if feeling:
        text += f"; {pronoun} {'look' if pronoun == 'they' else 'looks'} {feeling}"
    return text


def scene_sentence(
    people: list[Person], objects: list[ObjectDetection], alert_notes: dict[int, str], config: SentenceConfig
) -> str:
    """The scene in one sentence; ``alert_notes`` maps track ids to a short alert remark ("may have fallen")."""
    context = [o for o in objects if o.label != "person"]
    if not people:
        if not context:
            return "No one is in view."
        seen = sorted(context, key=lambda o: -o.score)[: max(config.max_objects, 1)]
        words = list(dict.fromkeys(with_article(object_word(o.label)) for o in seen))
        return f"No one is in view; I see {_join(words)}."
    ordered = sorted(people, key=lambda p: -(p.observation.box.width * p.observation.box.height))
    clauses = []
    for person in ordered[: config.max_people]:
        clause = person_sentence(person, context, config)
        note = alert_notes.get(person.track_id, "")
        if note:
            clause += f"{', and' if ';' in clause else ' and'} {note}"
        clauses.append(clause)
    clauses = _group_anonymous(clauses)
    rest = len(ordered) - config.max_people
    if rest > 0:
        clauses.append(f"{rest} more {'person is' if rest == 1 else 'people are'} in view")
    text = "; ".join(clauses)
    return text[0].upper() + text[1:] + "."


def _group_anonymous(clauses: list[str]) -> list[str]:
    """Say identical clauses about unnamed people once: "two people are sitting next to a table"."""
    counts: dict[str, int] = {}
    for clause in clauses:
        counts[clause] = counts.get(clause, 0) + 1
    grouped = []
    for clause, count in counts.items():
        if count > 1 and clause.startswith("a person is ") and ";" not in clause:
            number = _NUMBER_WORDS[count - 2] if count <= len(_NUMBER_WORDS) + 1 else str(count)
            grouped.append(f"{number} people are {clause.removeprefix('a person is ')}")
        else:
            grouped.extend([clause] * count)
    return grouped


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
