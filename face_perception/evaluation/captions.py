"""``eval captions``: the scene's first sentence against the five human captions of each COCO-mini photo.

Scores are pycocoevalcap's (METEOR, CIDEr, BLEU-1 to 4) on the Stanford PTB tokenizer, as COCO
reports them. Both the tokenizer and METEOR run on Java; where ``java`` is missing, captions are
tokenized in Python (lower case, words and numbers, punctuation dropped) and METEOR is left out.

The 80 photos are split once, by the sha256 of their image id: the half with the lowest hashes is
the tuning part (the sentence rules were adjusted while looking at it), the rest is held out.
Two baselines put the numbers in scale: one constant sentence for every photo, and each human
caption scored against the other four (the mean over the five choices).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from face_perception.core.config import PipelineConfig
from face_perception.core.errors import DataError
from face_perception.core.images import read_image
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import SceneAnalyzer
from face_perception.core.scene.config import SceneConfig
from face_perception.core.scene.people import PeopleConfig
from face_perception.core.scene.sentence import caption_sentence
from face_perception.evaluation.coco_split import coco_halves
from face_perception.evaluation.tasks import Report

log = logging.getLogger(__name__)

CONSTANT_SENTENCE = "A person is in the room."
PARTS: tuple[str, ...] = ("held-out", "tuning")
METRICS: tuple[str, ...] = ("METEOR", "CIDEr", "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4")
JAVA_MISSING = (
    "java was not found: captions are tokenized in Python instead of the PTB tokenizer and METEOR "
    "(a Java program) is left out; install a Java runtime (e.g. openjdk-17-jre-headless) for COCO's scores"
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class CaptionedPhoto:
    """A COCO-mini photo and its human captions."""

    image_id: int
    path: Path
    captions: tuple[str, ...]


@dataclass(frozen=True)
class CaptionScores:
    """Corpus scores of candidate sentences; ``meteor`` is None without Java."""

    meteor: float | None
    cider: float
    bleu: tuple[float, float, float, float]
    tokenizer: str  # "ptb" (Java) or "plain" (Python)

    def as_dict(self) -> dict[str, float | None]:
        return dict(zip(METRICS, (self.meteor, self.cider, *self.bleu), strict=True))


def load_captioned_photos(data: Path) -> list[CaptionedPhoto]:
    """The photos of ``data/coco_mini`` with their captions, by image id.

    Raises:
        DataError: the captions file or a photo is missing.
    """
    folder = data / "coco_mini"
    path = folder / "captions_train2017.json"
    if not path.is_file():
        raise DataError(f"no captions at {path} (see the data README)")
    annotations = json.loads(path.read_text())
    captions: dict[int, list[str]] = {}
    for annotation in annotations["annotations"]:
        captions.setdefault(annotation["image_id"], []).append(annotation["caption"].strip())
    photos = []
    for image in sorted(annotations["images"], key=lambda i: i["id"]):
        file = folder / "images_train2017" / image["file_name"]
        if not file.is_file():
            raise DataError(f"photo {file} of {path} is missing")
        photos.append(CaptionedPhoto(image["id"], file, tuple(captions.get(image["id"], ()))))
    return photos


def split_photos(photos: Sequence[CaptionedPhoto]) -> dict[str, list[CaptionedPhoto]]:
    """``{"tuning": ..., "held-out": ...}``: photos ranked by sha256 of their image id, first half tuning."""
    halves = coco_halves(p.image_id for p in photos)
    ranked = sorted(photos, key=lambda p: hashlib.sha256(str(p.image_id).encode()).hexdigest())
    return {
        "tuning": [p for p in ranked if halves[p.image_id] == "tune"],
        "held-out": [p for p in ranked if halves[p.image_id] == "test"],
    }


def java_available() -> bool:
    return shutil.which("java") is not None


def plain_tokenize(text: str) -> str:
    """Lower-case words and numbers separated by single spaces (what remains of PTB tokens without punctuation)."""
    return " ".join(_WORD.findall(text.lower()))


def _tokenize(texts: Mapping[int, Sequence[str]], java: bool) -> dict[int, list[str]]:
    if not java:
        return {key: [plain_tokenize(t) for t in values] for key, values in texts.items()}
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    return PTBTokenizer().tokenize({key: [{"caption": t} for t in values] for key, values in texts.items()})


class CaptionScorer:
    """Scores candidates against references with pycocoevalcap; one METEOR process for its life."""

    def __init__(self, java: bool | None = None) -> None:
        try:
            from pycocoevalcap.bleu.bleu import Bleu
            from pycocoevalcap.cider.cider import Cider
        except ImportError as error:
            raise DataError("pycocoevalcap is not installed: pip install '.[eval]'") from error
        self.java = java_available() if java is None else java
        self._bleu, self._cider = Bleu(4), Cider()
        self._meteor = None
        if self.java:
            from pycocoevalcap.meteor.meteor import Meteor

            self._meteor = Meteor()

    def score(self, candidates: Mapping[int, str], references: Mapping[int, Sequence[str]]) -> CaptionScores:
        """Corpus scores of one candidate per image against that image's references (same keys)."""
        if set(candidates) != set(references) or not candidates:
            raise ValueError("candidates and references must cover the same, non-empty set of images")
        keys = sorted(candidates)
        tokens = _tokenize({k: [candidates[k], *references[k]] for k in keys}, self.java)
        res = {k: tokens[k][:1] for k in keys}
        gts = {k: tokens[k][1:] for k in keys}
        bleu, _ = self._bleu.compute_score(gts, res, verbose=0)
        cider, _ = self._cider.compute_score(gts, res)
        meteor = float(self._meteor.compute_score(gts, res)[0]) if self._meteor is not None else None
        return CaptionScores(meteor, float(cider), tuple(float(b) for b in bleu), "ptb" if self.java else "plain")

    def close(self) -> None:
        if self._meteor is not None:
            self._meteor.meteor_p.stdin.close()
            self._meteor.meteor_p.kill()
            self._meteor.meteor_p.wait()
            self._meteor = None

    def __enter__(self) -> CaptionScorer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def human_baseline(scorer: CaptionScorer, photos: Sequence[CaptionedPhoto]) -> CaptionScores:
    """Each photo's i-th human caption against its other captions, averaged over i (photos with 5 captions)."""
    rounds = []
    count = min(len(p.captions) for p in photos)
    for i in range(count):
        candidates = {p.image_id: p.captions[i] for p in photos}
        references = {p.image_id: [c for j, c in enumerate(p.captions) if j != i] for p in photos}
        rounds.append(scorer.score(candidates, references))
    meteors = [r.meteor for r in rounds]
    return CaptionScores(
        None if None in meteors else sum(meteors) / len(meteors),  # type: ignore[arg-type]
        sum(r.cider for r in rounds) / len(rounds),
        tuple(sum(r.bleu[n] for r in rounds) / len(rounds) for n in range(4)),  # type: ignore[arg-type]
        rounds[0].tokenizer,
    )


def describe_photos(
    photos: Sequence[CaptionedPhoto], analyzer: SceneAnalyzer
) -> tuple[dict[int, str], dict[int, str], float]:
    """The caption sentence and the whole description of each photo, and the median seconds per photo."""
    captions, descriptions, seconds = {}, {}, []
    for photo in photos:
        began = time.perf_counter()
        result = analyzer.analyze(read_image(photo.path))
        seconds.append(time.perf_counter() - began)
        captions[photo.image_id] = caption_sentence(result.people, result.objects, analyzer.config.sentence)
        descriptions[photo.image_id] = result.description
    return captions, descriptions, sorted(seconds)[len(seconds) // 2] if seconds else 0.0


def score_parts(
    scorer: CaptionScorer,
    parts: Mapping[str, Sequence[CaptionedPhoto]],
    systems: Mapping[str, Callable[[CaptionedPhoto], str]],
) -> dict[str, dict[str, CaptionScores]]:
    """``{part: {system: scores}}`` for sentence makers given as functions of a photo, plus the human baseline."""
    table: dict[str, dict[str, CaptionScores]] = {}
    for part, photos in parts.items():
        references = {p.image_id: list(p.captions) for p in photos}
        table[part] = {
            name: scorer.score({p.image_id: make(p) for p in photos}, references) for name, make in systems.items()
        }
        table[part]["one human caption vs the other four"] = human_baseline(scorer, photos)
    return table


def eval_captions(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    """The report of ``face-perception eval captions`` (scene and people settings: the defaults)."""
    photos = load_captioned_photos(data)
    parts = split_photos(photos)
    java = java_available()
    if not java:
        sys.stderr.write(f"eval captions: {JAVA_MISSING}\n")
    store = ModelStore(config.models_dir or None, num_threads=1)
    people = PeopleConfig(**({"object_model": model} if model else {}))
    analyzer = SceneAnalyzer.from_store(SceneConfig(), people, store, config)
    captions, descriptions, seconds = describe_photos(photos, analyzer)
    systems: dict[str, Callable[[CaptionedPhoto], str]] = {
        "first sentence (the caption)": lambda p: captions[p.image_id],
        "whole description (caption and details)": lambda p: descriptions[p.image_id],
        f'constant "{CONSTANT_SENTENCE}"': lambda p: CONSTANT_SENTENCE,
    }
    with CaptionScorer(java) as scorer:
        table = score_parts(scorer, {name: parts[name] for name in PARTS}, systems)
    report = Report(f"Captions: the scene's sentences against 5 human captions per photo ({people.object_model})")
    tokenizer = "PTB tokenizer (Java)" if java else "plain Python tokenizer; METEOR left out (no Java)"
    report.lines += [
        f"COCO-mini, {len(photos)} photos split by the sha256 of their image id: {len(parts['tuning'])} tuning, "
        f"{len(parts['held-out'])} held out. pycocoevalcap scores, {tokenizer}.",
        "",
    ]
    if not java:
        report.lines += [f"**{JAVA_MISSING}.**", ""]
    for part in PARTS:
        report.lines += [f"## {part} ({len(parts[part])} photos)", ""]
        rows = [[name, *[_number(v) for v in s.as_dict().values()]] for name, s in table[part].items()]
        report.table(["sentences", *METRICS], rows)
        report.metrics[part] = {name: s.as_dict() for name, s in table[part].items()}
    report.lines += ["## Sentences (held-out part)", ""]
    report.table(
        ["image id", "first sentence", "whole description"],
        [[p.image_id, captions[p.image_id], descriptions[p.image_id]] for p in parts["held-out"]],
    )
    report.metrics["tokenizer"] = "ptb" if java else "plain"
    report.metrics["ms_per_photo_median"] = 1000.0 * seconds
    return report


def _number(value: float | None) -> str | float:
    return "n/a" if value is None else round(value, 4)
