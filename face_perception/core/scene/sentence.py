"""Sentences about a scene, in the style of an image caption, built from small tables.

The first sentence reads like a caption: who (a counted group, or "a man", "a woman", "a child" from
confident faces), what they do (the posture, riding or holding an object, a kite in the sky), where
(on the furniture under them, next to the closest large object, in the place the objects name:
``PLACES``). A scene without people is described by its main objects the same way ("Two zebras are
standing in a field.", "A kitchen with an oven and a sink."). A second sentence may follow with
details: age, glasses and emotion of people whose faces are seen well, alert notes, and other objects.

What the models are unsure about is left out rather than guessed: no gender word below
``sentence.min_gender_score`` ("a person"), no age without a face, no emotion below
``sentence.min_emotion_score`` or when it is neutral, nothing from a face smaller than
``sentence.min_face_size_px``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from face_perception.core.checks import check_ranges
from face_perception.core.scene.types import KEYPOINT_NAMES, ObjectDetection, Person
from face_perception.core.types import Box, FaceResult

# Furniture a person can lie or sit on; lying on anything else counts as lying on the floor.
LYING_FURNITURE: tuple[str, ...] = ("bed", "couch")
SITTING_FURNITURE: tuple[str, ...] = ("bed", "couch", "chair", "bench", "toilet")
# Furniture things stand on in a scene ("a vase on a table", "a cat on a bed").
OBJECT_SUPPORTS: tuple[str, ...] = ("dining table", "bed", "couch", "chair", "bench")
# What the posture says a person is doing, before the furniture under them.
POSTURE_WORDS: dict[str, str] = {"standing": "standing", "sitting": "sitting", "lying": "lying"}
# Objects a person is on and what that makes them do: (verb, object word or "" when the verb says it all).
RIDDEN: dict[str, tuple[str, str]] = {
    "bicycle": ("riding", "bike"),
    "motorcycle": ("riding", "motorcycle"),
    "horse": ("riding", "horse"),
    "elephant": ("riding", "elephant"),
    "skateboard": ("riding", "skateboard"),
    "surfboard": ("riding", "surfboard"),
    "skis": ("skiing", ""),
    "snowboard": ("snowboarding", ""),
}
# Objects under the feet (boards) rather than under the hips (bikes, animals).
UNDERFOOT: tuple[str, ...] = ("skateboard", "surfboard", "skis", "snowboard")
# Objects a wrist can hold; a held object is said as "holding a ...".
HOLDABLE: tuple[str, ...] = (
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "cell phone", "remote", "book",
    "scissors", "teddy bear", "toothbrush", "hair drier", "umbrella", "frisbee", "sports ball",
    "baseball bat", "baseball glove", "tennis racket", "handbag", "suitcase", "skateboard", "surfboard",
    "skis", "snowboard", "laptop", "mouse", "keyboard", "vase", "cat", "dog", "bird", "clock",
)  # fmt: skip
# Objects seen anywhere in the scene that tell what its people do.
SCENE_ACTIVITIES: dict[str, str] = {"kite": "flying a kite"}
# What a scene's main object is doing when no person is in view: animals usually seen on their feet, kites.
OBJECT_ACTIONS: dict[str, str] = {
    **{animal: "standing" for animal in ("horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")},
    "kite": "flying in the sky",
}
PETS: tuple[str, ...] = ("cat", "dog")
ANIMALS: tuple[str, ...] = ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")
# Without people, the main object is an animal when one is seen (before the furniture it is on), else the most
# salient object (its share of the image times its score, summed over the objects of a label).


@dataclass(frozen=True)
class Place:
    """A kind of place, how a caption says it, and how much each object suggests it."""

    name: str
    phrase: str
    weights: dict[str, float]


# The place of a scene: the one whose objects weigh most, at least MIN_PLACE_WEIGHT (a label counts at most twice).
PLACES: tuple[Place, ...] = (
    Place("kitchen", "in a kitchen", {"oven": 2, "microwave": 2, "refrigerator": 2, "toaster": 2, "sink": 1}),
    Place("bathroom", "in a bathroom", {"toilet": 2, "sink": 1, "toothbrush": 1, "hair drier": 1}),
    Place("living room", "in a living room", {"couch": 2, "tv": 1, "remote": 1}),
    Place("bedroom", "in a bedroom", {"bed": 2}),
    Place("office", "in an office", {"laptop": 1, "keyboard": 1, "mouse": 1}),
    Place(
        "street",
        "on a street",
        {
            "car": 1,
            "bus": 2,
            "truck": 1,
            "motorcycle": 1,
            "bicycle": 0.5,
            "traffic light": 2,
            "stop sign": 2,
            "fire hydrant": 2,
            "parking meter": 2,
        },
    ),
    Place("field", "in a field", {"sheep": 2, "cow": 2, "horse": 1, "zebra": 2, "giraffe": 1}),
    Place("snow", "in the snow", {"skis": 2, "snowboard": 2}),
    Place("water", "in the water", {"boat": 2, "surfboard": 2}),
    Place("train station", "at a train station", {"train": 2}),
    Place("tennis court", "on a tennis court", {"tennis racket": 2}),
    Place("baseball field", "on a baseball field", {"baseball bat": 2, "baseball glove": 2}),
    Place("airport", "at an airport", {"airplane": 2}),
)
MIN_PLACE_WEIGHT = 2.0
# Rooms a caption may name first ("A kitchen with an oven and a sink.") when two of their objects are seen.
ROOMS: tuple[str, ...] = ("kitchen", "bathroom", "living room", "bedroom", "office")
ROOM_MIN_OBJECTS = 2

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
    "sports ball": "ball",
    "hair drier": "hair dryer",
    "skis": "pair of skis",  # COCO's plural names take "a pair of"
    "scissors": "pair of scissors",
}
_PLURALS = {
    "person": "people",
    "man": "men",
    "woman": "women",
    "child": "children",
    "mouse": "mice",
    "sheep": "sheep",
    "knife": "knives",
    "pair of skis": "pairs of skis",
    "pair of scissors": "pairs of scissors",
}
_NUMBER_WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_WRISTS = (KEYPOINT_NAMES.index("left_wrist"), KEYPOINT_NAMES.index("right_wrist"))
_HIPS = (KEYPOINT_NAMES.index("left_hip"), KEYPOINT_NAMES.index("right_hip"))
_ANKLES = (KEYPOINT_NAMES.index("left_ankle"), KEYPOINT_NAMES.index("right_ankle"))
_KEYPOINT_MIN_SCORE = 0.3
_GROUP_SIZE = 3  # this many people or things or more are "a group of ..."
_MAIN_PERSON_HEIGHT = 0.3  # people shorter than this share of the tallest are the background


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


# ---------------------------------------------------------------------------------------------------------------
# Words


def with_article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def object_word(label: str) -> str:
    return _OBJECT_WORDS.get(label, label)


def plural(word: str) -> str:
    """The plural of a noun ("bus" -> "buses", "pair of skis" -> "pairs of skis", "sheep" -> "sheep")."""
    if word in _PLURALS:
        return _PLURALS[word]
    head, _, tail = word.rpartition(" ")
    if tail in _PLURALS:
        return f"{head} {_PLURALS[tail]}"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def counted(word: str, count: int) -> str:
    """The counted noun: "a bus", "two buses", "a group of buses" (from ``_GROUP_SIZE`` on)."""
    if count <= 1:
        return with_article(word)
    if count < _GROUP_SIZE and count <= len(_NUMBER_WORDS) + 1:
        return f"{_NUMBER_WORDS[count - 2]} {plural(word)}"
    return f"a group of {plural(word)}"


def _some(word: str, count: int) -> str:
    """The noun in a list: "a cup", "two cups", "cups" (from three on: detectors miscount many things)."""
    return with_article(word) if count == 1 else "two " + plural(word) if count == 2 else plural(word)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _capitalized(text: str) -> str:
    return text[0].upper() + text[1:]


# ---------------------------------------------------------------------------------------------------------------
# Geometry


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


def _inside(x: float, y: float, box: Box, margin: float = 0.0) -> bool:
    return box.x_min - margin <= x <= box.x_max + margin and box.y_min - margin <= y <= box.y_max + margin


def _confident_points(keypoints: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    rows = keypoints[list(indices)]
    return rows[rows[:, 2] >= _KEYPOINT_MIN_SCORE, :2]


def held_object(person: Person, objects: list[ObjectDetection]) -> ObjectDetection | None:
    """The most confident holdable object with a confident wrist keypoint inside its box (a small margin
    around it), smaller than the person; None when no wrist is in one."""
    box = person.observation.box
    wrists = _confident_points(person.observation.keypoints, _WRISTS)
    best = None
    for obj in objects:
        if obj.label not in HOLDABLE or obj.box.width * obj.box.height >= box.width * box.height:
            continue
        margin = 0.15 * max(obj.box.width, obj.box.height) + 0.03 * box.height
        in_hand = any(_inside(float(x), float(y), obj.box, margin) for x, y in wrists)
        if in_hand and (best is None or obj.score > best.score):
            best = obj
    return best


def ridden_object(person: Person, objects: list[ObjectDetection]) -> ObjectDetection | None:
    """The object the person is on: a board under the feet, or a bike or animal under the hips."""
    observation = person.observation
    box = observation.box
    hips = _confident_points(observation.keypoints, _HIPS)
    ankles = _confident_points(observation.keypoints, _ANKLES)
    for obj in sorted(objects, key=lambda o: -o.score):
        if obj.label not in RIDDEN:
            continue
        if obj.label in UNDERFOOT:
            feet = ankles if len(ankles) else np.array([[(box.x_min + box.x_max) / 2, box.y_max]])
            margin = 0.15 * box.height
            if any(_inside(float(x), float(y), obj.box, margin) for x, y in feet):
                return obj
            continue
        seat = hips if len(hips) else np.array([[(box.x_min + box.x_max) / 2, box.y_min + 0.55 * box.height]])
        above = box.y_min < obj.box.y_min  # the rider's head is above the bike or the animal
        if above and any(_inside(float(x), float(y), obj.box, 0.05 * box.height) for x, y in seat):
            return obj
    return None


def scene_place(objects: list[ObjectDetection]) -> Place | None:
    """The place whose objects weigh most (a label counts at most twice), if at least ``MIN_PLACE_WEIGHT``."""
    counts = Counter(o.label for o in objects)
    best, best_weight = None, MIN_PLACE_WEIGHT - 1e-9
    for place in PLACES:
        weight = sum(w * min(counts[label], 2) for label, w in place.weights.items())
        if weight > best_weight:
            best, best_weight = place, weight
    return best


def _salience(obj: ObjectDetection, image_area: float) -> float:
    """How much an object draws the eye: its share of the image times its score."""
    return obj.score * obj.box.width * obj.box.height / image_area


# ---------------------------------------------------------------------------------------------------------------
# People


def usable_face(person: Person, config: SentenceConfig) -> FaceResult | None:
    """The person's face when it is large enough for its attributes to be said, else None."""
    face = person.face
    if face is None or min(face.detection.box.width, face.detection.box.height) < config.min_face_size_px:
        return None
    return face


def _gender_and_age(person: Person, config: SentenceConfig) -> tuple[str, float | None]:
    face = usable_face(person, config)
    gender = ""
    if face is not None and face.gender is not None and face.gender.score >= config.min_gender_score:
        gender = face.gender.label
    age = None if face is None or face.age is None or np.isnan(face.age) else float(face.age)
    return gender, age


def person_noun(person: Person, config: SentenceConfig) -> str:
    """ "man", "woman", "boy", "girl", "child" or "person", from a confident face."""
    gender, age = _gender_and_age(person, config)
    child = age is not None and age < 13
    return {
        ("female", False): "woman",
        ("male", False): "man",
        ("female", True): "girl",
        ("male", True): "boy",
        ("", True): "child",
    }.get((gender, child), "person")


def person_phrase(person: Person, config: SentenceConfig) -> tuple[str, str]:
    """The noun phrase with age and glasses ("a woman with glasses, about 70,") and the pronoun ("she", "they")."""
    face = usable_face(person, config)
    gender, age = _gender_and_age(person, config)
    phrase = with_article(person_noun(person, config))
    if face is not None and face.eyewear is not None and face.eyewear.worn:
        phrase += " with glasses"
    if age is not None:
        phrase += f", about {_age_words(age)},"
    pronoun = {"female": "she", "male": "he"}.get(gender, "they")
    return phrase, pronoun


def _age_words(age: float) -> str:
    return str(int(5 * round(age / 5)) if age >= 13 else int(round(age)))


def emotion_word(person: Person, config: SentenceConfig) -> str:
    """The visible emotion as an adjective ("sad"), or "" when neutral, unknown or unsure."""
    face = usable_face(person, config)
    if face is None or face.emotion is None or face.emotion.score < config.min_emotion_score:
        return ""
    return _EMOTION_WORDS.get(face.emotion.label, "")


def main_people(people: list[Person], config: SentenceConfig) -> list[Person]:
    """The people the caption counts: those not far smaller than the tallest, largest first."""
    if not people:
        return []
    tallest = max(p.observation.box.height for p in people)
    main = [p for p in people if p.observation.box.height >= _MAIN_PERSON_HEIGHT * tallest]
    return sorted(main, key=lambda p: -(p.observation.box.width * p.observation.box.height))


@dataclass(frozen=True)
class _Doing:
    """What one person does, as the caption says it."""

    posture: str  # a key of POSTURE_WORDS, or "" when unknown
    support: ObjectDetection | None  # furniture under a sitting or lying person
    ridden: ObjectDetection | None
    held: ObjectDetection | None


def _doing(person: Person, objects: list[ObjectDetection], config: SentenceConfig) -> _Doing:
    observation = person.observation
    # A finer label ("lying_floor") reads as its first word; the furniture under the person says where.
    posture = observation.posture.split("_")[0]
    posture = posture if posture in POSTURE_WORDS else ""
    support = None
    if posture in ("lying", "sitting"):
        labels = LYING_FURNITURE if posture == "lying" else SITTING_FURNITURE
        support = furniture_under(observation.box, objects, labels, config.furniture_min_overlap)
    ridden = ridden_object(person, objects) if posture != "lying" else None
    held = held_object(person, [o for o in objects if o is not ridden])
    return _Doing(posture, support, ridden, held)


def _subject(main: list[Person], config: SentenceConfig) -> str:
    """ "a woman", "a man and a woman", "three children", "a group of people"."""
    nouns = [person_noun(p, config) for p in main]
    kinds = Counter(nouns)
    if len(main) == 2 and set(kinds) == {"man", "woman"}:
        return "a man and a woman"
    if len(kinds) == 1:
        return counted(nouns[0], len(main))
    young = {"boy", "girl", "child"}
    word = "children" if set(kinds) <= young else "people"
    return counted("child" if word == "children" else "person", len(main))


def _posture_phrase(posture: str, support: ObjectDetection | None, table: ObjectDetection | None) -> str:
    words = POSTURE_WORDS.get(posture, "")
    if not words:
        return ""
    if support is not None:
        return f"{words} on {with_article(object_word(support.label))}"
    if posture == "lying":
        return f"{words} on the floor"
    if posture == "sitting" and table is not None:
        return f"{words} at {with_article(object_word(table.label))}"
    return words


def _ridden_phrase(label: str, count: int) -> str:
    verb, word = RIDDEN[label]
    if not word:
        return verb
    return f"{verb} {plural(word) if count > 1 else with_article(word)}"


def _union(boxes: list[Box]) -> Box:
    corners = np.array([b.as_list() for b in boxes])
    return Box(*corners[:, :2].min(axis=0).tolist(), *corners[:, 2:].max(axis=0).tolist())


def _people_caption(main: list[Person], objects: list[ObjectDetection], config: SentenceConfig) -> tuple[str, set[int]]:
    """The caption of a scene with people, and the ids of the objects it names."""
    doings = [_doing(p, objects, config) for p in main]
    named: set[int] = set()
    box = _union([p.observation.box for p in main])
    table = furniture_under(box, objects, ("dining table",), 0.1)
    postures = Counter(d.posture for d in doings if d.posture)
    posture = postures.most_common(1)[0][0] if postures else ""
    supports = Counter(d.support.label for d in doings if d.posture == posture and d.support is not None)
    support = None
    if supports:
        label = supports.most_common(1)[0][0]
        support = next(d.support for d in doings if d.support is not None and d.support.label == label)
    ridden = Counter(d.ridden.label for d in doings if d.ridden is not None)
    held = Counter(d.held.label for d in doings if d.held is not None)
    parts: list[str] = []
    if ridden and ridden.most_common(1)[0][1] * 2 > len(main) - 1:
        label, count = ridden.most_common(1)[0]
        parts.append(_ridden_phrase(label, count))
        named |= {id(d.ridden) for d in doings if d.ridden is not None and d.ridden.label == label}
    else:
        phrase = _posture_phrase(posture, support, table)
        if phrase:
            parts.append(phrase)
            named |= {id(o) for o in (support,) if o is not None}
            if table is not None and "at a table" in phrase:
                named.add(id(table))
    activity = next((SCENE_ACTIVITIES[o.label] for o in objects if o.label in SCENE_ACTIVITIES), "")
    if activity and posture != "lying":
        parts = [p for p in parts if p != "standing"] + [activity]
        named |= {id(o) for o in objects if o.label in SCENE_ACTIVITIES}
    elif held and held.most_common(1)[0][1] * 2 > len(main) - 1:
        label, count = held.most_common(1)[0]
        word = object_word(label)
        thing = plural(word) if count > 1 else with_article(word)
        if parts and parts[0] != "standing":
            parts.append(f"with {thing}")
        else:
            parts = [f"holding {thing}"]
        named |= {id(d.held) for d in doings if d.held is not None and d.held.label == label}
    if table is not None and id(table) not in named and posture != "lying":
        parts.append(f"{'at' if len(main) == 1 else 'around'} a table")
        named.add(id(table))
    if len(parts) < 2:
        near = nearest_object(box, [o for o in objects if id(o) not in named], None)
        if near is not None:
            parts.append(f"next to {with_article(object_word(near.label))}")
            named.add(id(near))
    place = scene_place(objects)
    subject = _subject(main, config)
    verb = "is" if subject.startswith(("a ", "an ")) and " and " not in subject else "are"
    if subject.startswith("a group of"):
        verb = "are"
    words = " ".join(parts)
    if place is not None and not _says_place(words, place):
        words = f"{words} {place.phrase}".strip()
    if not parts:
        return (f"{subject} {place.phrase}" if place is not None else _bare(subject, verb)), named
    first = parts[0].split(" ")[0]
    if first in ("next", "at", "around", "with"):
        return f"{subject} {words}", named
    return f"{subject} {verb} {words}", named


FALLBACK = "{subject} {verb} in the picture"


def _bare(subject: str, verb: str) -> str:
    """The caption when nothing but the subject is known."""
    return FALLBACK.format(subject=subject, verb=verb)


def _says_place(words: str, place: Place) -> bool:
    """Whether the action already tells the place ("skiing" is in the snow)."""
    return (place.name == "snow" and ("skiing" in words or "snowboarding" in words)) or (
        place.name == "water" and "surfboard" in words
    )


# ---------------------------------------------------------------------------------------------------------------
# Objects only


def _objects_caption(objects: list[ObjectDetection], image_area: float, config: SentenceConfig) -> tuple[str, set[int]]:
    """The caption of a scene without people, from its main objects, and the ids of the objects it names."""
    weight: Counter[str] = Counter()
    for obj in objects:
        weight[obj.label] += _salience(obj, image_area)
    ranked = sorted(weight, key=lambda label: (label not in ANIMALS, -weight[label]))
    main_label = ranked[0]
    mains = [o for o in objects if o.label == main_label]
    named = {id(o) for o in mains}
    place = scene_place(objects)
    if place is not None and place.name in ROOMS:
        fixtures = [label for label in ranked if label in place.weights]
        if len(fixtures) >= ROOM_MIN_OBJECTS:
            listed = fixtures[: max(config.max_objects, 1)]
            named |= {id(o) for o in objects if o.label in listed}
            things = _join([with_article(object_word(label)) for label in listed])
            return f"{with_article(place.name)} with {things}", named
    if main_label == "dining table":
        table = max(mains, key=lambda o: o.box.width * o.box.height)
        on_it = [
            label
            for label in ranked
            if label != "dining table" and any(_inside(*_centre(o.box), table.box) for o in objects if o.label == label)
        ][: max(config.max_objects - 1, 1)]
        if on_it:
            named |= {id(o) for o in objects if o.label in on_it}
            counts = Counter(o.label for o in objects)
            things = [_some(object_word(label), counts[label]) for label in on_it]
            return f"a table with {_join(things)}", named
    subject = counted(object_word(main_label), len(mains))
    verb = "is" if len(mains) == 1 else "are"
    main = max(mains, key=lambda o: o.score)
    rest = [o for o in objects if o.label != main_label]
    support = _support_of(main, rest)
    action = ""
    if main_label in OBJECT_ACTIONS:
        action = OBJECT_ACTIONS[main_label]
    elif main_label in PETS and support is not None:
        action = "lying" if main.box.width > 1.3 * main.box.height else "sitting"
    parts = [action] if action else []
    if support is not None:
        parts.append(f"on {with_article(object_word(support.label))}")
        named.add(id(support))
    else:
        near = nearest_object(main.box, rest, None)
        if near is not None:
            parts.append(f"next to {with_article(object_word(near.label))}")
            named.add(id(near))
    if place is not None:
        parts.append(place.phrase)
    if not parts:
        return _bare(subject, verb), named
    words = " ".join(parts)
    return (f"{subject} {verb} {words}" if action else f"{subject} {words}"), named


def _centre(box: Box) -> tuple[float, float]:
    return (box.x_min + box.x_max) / 2, (box.y_min + box.y_max) / 2


def _support_of(obj: ObjectDetection, others: list[ObjectDetection]) -> ObjectDetection | None:
    """The larger piece of furniture that the bottom centre of ``obj`` rests on, if any."""
    foot = ((obj.box.x_min + obj.box.x_max) / 2, obj.box.y_max)
    area = obj.box.width * obj.box.height
    for other in sorted(others, key=lambda o: -o.score):
        if other.label in OBJECT_SUPPORTS and other.box.width * other.box.height > area and _inside(*foot, other.box):
            return other
    return None


# ---------------------------------------------------------------------------------------------------------------
# Sentences


def _image_area(people: list[Person], objects: list[ObjectDetection]) -> float:
    """The area of the region the boxes span (the image's own size is not needed for shares)."""
    boxes = [p.observation.box for p in people] + [o.box for o in objects]
    if not boxes:
        return 1.0
    union = _union(boxes)
    return max(union.width * union.height, 1.0)


def _caption(people: list[Person], objects: list[ObjectDetection], config: SentenceConfig) -> tuple[str, set[int]]:
    context = [o for o in objects if o.label != "person"]
    main = main_people(people, config)
    if main:
        text, named = _people_caption(main, context, config)
    elif context:
        text, named = _objects_caption(context, _image_area(people, context), config)
    elif people:
        text, named = _bare(counted("person", len(people)), "is" if len(people) == 1 else "are"), set()
    else:
        return "No one is in view.", set()
    return _capitalized(text) + ".", named


def caption_sentence(people: list[Person], objects: list[ObjectDetection], config: SentenceConfig) -> str:
    """The scene in one caption-style sentence: "Two people are sitting on a couch in a living room."."""
    return _caption(people, objects, config)[0]


def detail_sentences(
    people: list[Person],
    objects: list[ObjectDetection],
    alert_notes: dict[int, str],
    config: SentenceConfig,
    named: set[int] | None = None,
) -> str:
    """What the caption leaves out, or "": age, glasses, emotion and alert notes of the people (largest
    first, at most ``max_people``), then other objects ("Also in view: a TV and a bench.")."""
    ordered = sorted(people, key=lambda p: -(p.observation.box.width * p.observation.box.height))
    nouns = Counter(person_noun(p, config) for p in ordered)
    sentences = []
    for person in ordered[: config.max_people]:
        facts = _person_facts(person, config)
        note = alert_notes.get(person.track_id, "")
        if note:
            facts.append(note)
        if not facts:
            continue
        noun = person_noun(person, config)
        if len(ordered) == 1:
            gender, _ = _gender_and_age(person, config)
            subject = {"female": "she", "male": "he"}.get(gender, "the person" if noun == "person" else f"the {noun}")
        else:
            subject = f"{'the' if nouns[noun] == 1 else 'one'} {noun}"
        sentences.append(_capitalized(f"{subject} {_join(facts)}") + ".")
    named = named or set()
    named_labels = {o.label for o in objects if id(o) in named}  # "a car" said once is enough
    others = [o for o in objects if o.label != "person" and o.label not in named_labels]
    labels = list(dict.fromkeys(o.label for o in sorted(others, key=lambda o: -o.score)))[: config.max_objects]
    if labels and (people or named):
        counts = Counter(o.label for o in others)
        things = [_some(object_word(label), counts[label]) for label in labels]
        sentences.append(f"Also in view: {_join(things)}.")
    return " ".join(sentences)


def _person_facts(person: Person, config: SentenceConfig) -> list[str]:
    face = usable_face(person, config)
    if face is None:
        return []
    facts = []
    _, age = _gender_and_age(person, config)
    if age is not None:
        facts.append(f"is about {_age_words(age)}")
    if face.eyewear is not None and face.eyewear.worn:
        facts.append("wears glasses")
    feeling = emotion_word(person, config)
    if feeling:
        facts.append(f"looks {feeling}")
    return facts


def scene_sentence(
    people: list[Person], objects: list[ObjectDetection], alert_notes: dict[int, str], config: SentenceConfig
) -> str:
    """The caption, then the details: ``alert_notes`` maps track ids to a short remark ("seems to have fallen")."""
    caption, named = _caption(people, objects, config)
    details = detail_sentences(people, objects, alert_notes, config, named)
    return f"{caption} {details}".strip()
