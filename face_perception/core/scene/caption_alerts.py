"""Alarming phrases in a caption ("a man lying on the floor", "flames coming out of a house") as typed findings.

Rule-based and small on purpose: whole-word patterns per kind, a few exclusions for harmless uses ("fire
hydrant", "fallen leaves", "water gun"), a damping of the score where the caption shows a harmless setting
(a knife beside food, a fire in a fireplace), and negation ("no fire", "nobody is injured", "not bleeding").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HAZARD_KINDS: tuple[str, ...] = ("fall", "fire", "injury", "weapon")


@dataclass(frozen=True)
class CaptionHazard:
    """One alarming phrase found in a caption."""

    kind: str  # one of HAZARD_KINDS
    phrase: str  # the caption's words that matched, as written
    score: float  # 0 to 1: how strongly the phrase means ``kind``
    start: int  # character span of ``phrase`` in the caption
    end: int


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    score: float
    needs_person: bool = False  # a fall is a person's: skipped when the caption names only animals or things


def _rule(kind: str, pattern: str, score: float, needs_person: bool = False) -> _Rule:
    return _Rule(kind, re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE), score, needs_person)


_GROUND = (
    r"(?:the\s+|a\s+)?(?:\w+\s+)?(?:floor|ground|pavement|sidewalk|street|road|carpet|rug|stairs|steps|"
    r"grass|tiles|asphalt|concrete|dirt)"
)
_LYING = r"(?:lying|laying|lies|lays|lie|lay|sprawled|collapsed|slumped|face\s+down|passed\s+out)"

_RULES: tuple[_Rule, ...] = (
    # falls
    _rule("fall", rf"{_LYING}\s+(?:down\s+)?(?:on|in|across|at\s+the\s+bottom\s+of)\s+{_GROUND}", 0.9, True),
    _rule(
        "fall",
        r"(?:has\s+|have\s+|had\s+)?fallen(?:\s+(?:down|over|off))?(?!\s+(?:leaves|leaf|trees?|branch(?:es)?|"
        r"logs?|snow|apples?|fruit|petals))",
        0.85,
        True,
    ),
    _rule("fall", r"falling(?:\s+(?:down|over|off))?(?!\s+(?:leaves|snow|rain|water))", 0.75, True),
    _rule("fall", r"fell(?:\s+(?:down|over|off))?", 0.8, True),
    _rule("fall", r"collapsed|tripped(?:\s+over)?|slipped\s+(?:and\s+fell|on)", 0.7, True),
    # fire
    _rule("fire", r"on\s+fire|in\s+flames|engulfed|ablaze", 0.95),
    _rule(
        "fire",
        r"fire(?!\s+(?:hydrant|truck|engine|station|extinguisher|alarm|escape|department|fighters?|"
        r"place|pit|works|exit|door|man|men|hose))",
        0.85,
    ),
    _rule("fire", r"flames?|blaze|burning(?!\s+(?:candles?|incense))", 0.85),
    _rule("fire", r"smoke(?!\s+(?:detector|alarm))|smoky|smoldering", 0.6),
    # injuries
    _rule("injury", r"blood(?!\s+(?:pressure|orange|test|type|bank|donor|sugar))|bloody|bleeding|bloodied", 0.9),
    _rule("injury", r"injured|injury|injuries|wounded|wounds?|unconscious", 0.85),
    _rule("injury", r"hurt|in\s+pain", 0.6),
    # weapons
    _rule("weapon", r"weapons?|firearms?|guns?|handguns?|pistols?|rifles?|shotguns?|revolvers?", 0.9),
    _rule("weapon", r"knife|knives|machetes?|daggers?|swords?|axes?|baseball\s+bat", 0.6),
)

# Guns that are not weapons ("water gun"): the word just before the match.
_HARMLESS_BEFORE = re.compile(
    r"\b(?:toy|water|glue|nail|squirt|spray|heat|staple|nerf|paint|foam|bubble|massage|butter|bread|cake|"
    r"pizza|plastic|pocket)\s+$",
    re.IGNORECASE,
)
# Settings that make a kind harmless most of the time: its score is damped.
_DAMPING: dict[str, tuple[re.Pattern[str], float]] = {
    "weapon": (
        re.compile(
            r"\b(?:kitchen|cutting\s+board|food|vegetables?|fruit|cake|pizza|bread|meat|cheese|sandwich|plate|"
            r"table|fork|cooking|chopping|slicing|cutting)\b",
            re.IGNORECASE,
        ),
        0.4,
    ),
    "fire": (
        re.compile(r"\b(?:fireplace|fire\s+pit|campfire|candles?|stove|grill|barbecue|bbq|oven|torch)\b", re.I),
        0.4,
    ),
}
_PERSON = re.compile(
    r"\b(?:man|men|woman|women|person|people|boy|girl|child|children|kid|kids|baby|toddler|lady|guy|someone|"
    r"somebody|he|she|elderly|grandma|grandpa|grandmother|grandfather|senior|player|worker|patient|adult|"
    r"teenager|skier|skateboarder|snowboarder|surfer|rider|biker|cyclist|runner)\b",
    re.IGNORECASE,
)
_ANIMAL = re.compile(
    r"\b(?:dogs?|cats?|pupp(?:y|ies)|kittens?|horses?|cows?|cattle|sheep|birds?|animals?|bears?|elephants?"
    r"|giraffes?|zebras?)\b",
    re.IGNORECASE,
)
# Negation right before a phrase: "no fire", "not on fire", "without any blood", "isn't bleeding".
_NEGATED_BEFORE = re.compile(
    r"\b(?:no|not|without|never|isn't|aren't|wasn't|weren't|hasn't|haven't|doesn't|don't|didn't|nor|free\s+of)\s+"
    r"(?:(?:any|visible|apparent|obvious|signs?\s+of|trace\s+of|evidence\s+of|longer|badly|seriously|really|"
    r"been|being|yet|actually|is|on|in|a|an|the)\s+){0,3}$",
    re.IGNORECASE,
)
# A negated subject: "no one is injured", "nobody has fallen", "none of them are hurt".
_NEGATED_SUBJECT = re.compile(
    r"\b(?:no\s+one|no-one|nobody|none\s+of\s+them|nothing|neither)\s+(?:\w+\s+){0,3}$", re.IGNORECASE
)
_CLAUSE_BREAK = re.compile(r"[.;:!?,]|\b(?:but|and|while|although|though|yet)\b", re.IGNORECASE)


def _clause_before(caption: str, start: int) -> str:
    """The text of the caption's clause before ``start`` (after the last punctuation or conjunction)."""
    before = caption[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    return before[breaks[-1].end() :] if breaks else before


def find_caption_hazards(caption: str) -> list[CaptionHazard]:
    """The alarming phrases of ``caption``, in reading order; overlapping matches keep the highest score."""
    if not caption or not caption.strip():
        return []
    has_person = _PERSON.search(caption) is not None
    has_animal = _ANIMAL.search(caption) is not None
    found: list[CaptionHazard] = []
    for rule in _RULES:
        for match in rule.pattern.finditer(caption):
            before = _clause_before(caption, match.start())
            if _NEGATED_BEFORE.search(before) or _NEGATED_SUBJECT.search(before):
                continue
            if rule.kind == "weapon" and _HARMLESS_BEFORE.search(caption[: match.start()]):
                continue
            score = rule.score
            if rule.needs_person and not has_person:
                if has_animal:
                    continue
                score *= 0.7  # "lying on the floor" with no one named: likely a person, less sure
            damping = _DAMPING.get(rule.kind)
            if damping is not None and damping[0].search(caption):
                score *= damping[1]
            found.append(CaptionHazard(rule.kind, match.group(0), round(score, 3), match.start(), match.end()))
    return _drop_overlaps(found)


def _drop_overlaps(found: list[CaptionHazard]) -> list[CaptionHazard]:
    kept: list[CaptionHazard] = []
    for hazard in sorted(found, key=lambda h: (-h.score, h.start)):
        if all(hazard.end <= other.start or hazard.start >= other.end for other in kept):
            kept.append(hazard)
    return sorted(kept, key=lambda h: h.start)


def strongest_by_kind(hazards: list[CaptionHazard]) -> dict[str, CaptionHazard]:
    """The highest-scoring hazard of each kind."""
    best: dict[str, CaptionHazard] = {}
    for hazard in hazards:
        if hazard.kind not in best or hazard.score > best[hazard.kind].score:
            best[hazard.kind] = hazard
    return best


def caption_findings(caption: str) -> list[tuple[str, float]]:
    """(phrase, score) pairs of ``caption``'s hazards: the form the scene alerts take for a caption."""
    return [(hazard.phrase.lower(), hazard.score) for hazard in find_caption_hazards(caption)]


__all__ = ["HAZARD_KINDS", "CaptionHazard", "caption_findings", "find_caption_hazards", "strongest_by_kind"]
