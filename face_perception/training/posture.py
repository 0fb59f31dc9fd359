"""Training of the posture classifier (``posture_mlp``) on the falls photos and COCO-mini.

Samples are the people finder's own person candidates (``PeopleFinder.candidates`` with the
posture model off), so the network sees at training time exactly what it sees at run time:
- falls train photos, turned upright (``upright_turns``): a candidate that matches a labeled
  person (IoU >= 0.5, best match) takes its label (fall: lying, sit: sitting, stand: standing),
  every other candidate is ``none``; the same photos turned by a quarter add lying samples (the
  standing people, now on their side) and more ``none`` ones;
- COCO-mini photos of the tuning half (``coco_split``), as they are and turned by a quarter:
  people taller than a tenth of the photo are people (as they are: posture not known, the loss
  only asks that they are not ``none``; turned upright people: lying); unmatched candidates ``none``.
Every photo also counts mirrored (the detector's features of a mirrored photo are not a permutation
of the original's, so the mirror image goes through the finder itself). Clips of the falls train
part (15% of the groups) are held out to choose the epoch; the falls test part and the COCO-mini
held-out half are never seen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from face_perception.core.images import read_image
from face_perception.core.models.posture import NUM_FEATURES, POSTURE_CLASSES
from face_perception.core.nms import box_iou
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.people import PeopleConfig, PeopleFinder, rotate_image
from face_perception.core.types import Box
from face_perception.evaluation.coco_split import coco_halves
from face_perception.evaluation.falls_photos import FallsPhoto, falls_photos, turn_box, upright_turns

log = logging.getLogger(__name__)
PERSON_UNKNOWN_POSTURE = -1  # a person whose posture is not labeled: the loss only asks "not none"
FALLS_TO_POSTURE = {"fall": "lying", "sit": "sitting", "stand": "standing"}
MATCH_IOU = 0.5
TRAIN_CANDIDATE_SCORE = 0.08
TRAIN_MAX_CANDIDATES = 10  # more "none" samples than the node's candidates; their features do not change
VAL_SHARE_PERCENT = 15


@dataclass(frozen=True)
class PostureTrainConfig:
    hidden: tuple[int, ...] = (64, 32)
    epochs: int = 300
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    input_dropout: float = 0.15  # the detector's 512 region features are many for ~10k samples
    dropout: float = 0.3
    none_weight: float = 0.5  # loss weight of the many "none" samples
    seed: int = 0


def _val_group(group: str) -> bool:
    return hashlib.sha256(f"posture-val-v1:{group}".encode()).digest()[0] * 100 < VAL_SHARE_PERCENT * 256


def labeled_samples(
    finder: PeopleFinder, image: np.ndarray, truth: list[tuple[Box, int]], ignore: list[Box] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Features [N, F] and labels [N] of the finder's candidates in one image.

    ``truth``: (box, label) with label an index of POSTURE_CLASSES or PERSON_UNKNOWN_POSTURE; a
    candidate overlapping an ``ignore`` box (a small or crowd person) by IoU 0.3 gives no sample.
    Unmatched candidates that nearly match a labeled person stay ``none`` samples: dropping them
    (IoU 0.35 to 0.5) doubled the false people on the held-out clips of the train part.
    """
    config = finder.config
    candidates, _ = finder.candidates(image, config.candidate_score_threshold, TRAIN_MAX_CANDIDATES)
    if not candidates:
        return np.zeros((0, NUM_FEATURES), np.float32), np.zeros(0, np.int64)
    boxes = np.array([c.detection.box.as_list() for c in candidates])
    labels = np.zeros(len(candidates), np.int64)  # none
    for box, label in truth:
        overlap = box_iou(np.array(box.as_list()), boxes)
        best = int(np.argmax(overlap))
        if overlap[best] >= MATCH_IOU:
            labels[best] = label
    keep = np.ones(len(candidates), bool)
    for box in ignore:
        keep &= ~((box_iou(np.array(box.as_list()), boxes) >= 0.3) & (labels == 0))
    features = np.stack([c.features for c in candidates])
    return features[keep], labels[keep]


def _mirrored(box: Box, width: int) -> Box:
    return Box(width - box.x_max, box.y_min, width - box.x_min, box.y_max)


def _falls_samples(finder: PeopleFinder, photo: FallsPhoto, turns: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Samples of one falls photo turned upright, and of the same turned by a quarter; each also mirrored."""
    upright = rotate_image(read_image(photo.path), turns)
    height, width = upright.shape[:2]
    labeled = [(turn_box(p.box, turns, height, width), FALLS_TO_POSTURE[p.label]) for p in photo.people]
    index = {name: i for i, name in enumerate(POSTURE_CLASSES)}
    quarter = 1 if int(hashlib.sha256(photo.path.name.encode()).digest()[0]) % 2 else 3
    samples = []
    for mirror in (False, True):
        image = np.ascontiguousarray(upright[:, ::-1]) if mirror else upright
        people = [(_mirrored(b, width) if mirror else b, label) for b, label in labeled]
        samples.append(labeled_samples(finder, image, [(b, index[label]) for b, label in people]))
        turned = rotate_image(image, quarter)
        th, tw = turned.shape[:2]
        standing = [(turn_box(b, quarter, th, tw), index["lying"]) for b, label in people if label == "standing"]
        others = [turn_box(b, quarter, th, tw) for b, label in people if label != "standing"]
        samples.append(labeled_samples(finder, turned, standing, others))
    return samples


def _coco_samples(finder: PeopleFinder, data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Samples of the COCO-mini tuning half, as they are and turned by a quarter; each also mirrored."""
    from face_perception.evaluation.scene import coco_people, truth_posture

    index = {name: i for i, name in enumerate(POSTURE_CLASSES)}
    samples = []
    photos = coco_people(data)
    halves = coco_halves(int(p.path.stem) for p in photos)
    for labeled in photos:
        if halves[int(labeled.path.stem)] != "tune":
            continue
        original = read_image(labeled.path)
        width = original.shape[1]
        big = [p for p in labeled.people if p.large]
        upright = [truth_posture(p.keypoints) == "upright" for p in big]  # a mirror keeps a body upright
        for mirror in (False, True):
            image = np.ascontiguousarray(original[:, ::-1]) if mirror else original

            def placed(box: Box, mirror: bool = mirror, width: int = width) -> Box:
                return _mirrored(box, width) if mirror else box

            small = [placed(Box(*p.box)) for p in labeled.people if not p.large]
            small += [placed(Box(*c)) for c in labeled.crowd]
            people = [placed(Box(*p.box)) for p in big]
            samples.append(labeled_samples(finder, image, [(b, PERSON_UNKNOWN_POSTURE) for b in people], small))
            turned = rotate_image(image, 1)
            th, tw = turned.shape[:2]
            truth = [(turn_box(b, 1, th, tw), index["lying"]) for b, up in zip(people, upright, strict=True) if up]
            ignore = [turn_box(b, 1, th, tw) for b in small] + [
                turn_box(b, 1, th, tw) for b, up in zip(people, upright, strict=True) if not up
            ]
            samples.append(labeled_samples(finder, turned, truth, ignore))
    return samples


def build_dataset(data: Path, out: Path, store: ModelStore) -> dict[str, np.ndarray]:
    """Features and labels of every sample (cached in ``out/samples.npz``)."""
    cache = out / "samples.npz"
    if cache.is_file():
        return dict(np.load(cache))
    started = time.monotonic()
    # candidates from a lower score than the node's, for more "none" samples near the border
    config = PeopleConfig(posture_model="", rotated_detection="off", candidate_score_threshold=TRAIN_CANDIDATE_SCORE)
    finder = PeopleFinder.from_store(config, store)
    photos = falls_photos(data)
    turns = upright_turns(photos, finder.detector, read_image, out / "upright_turns.json")
    log.info("falls photos turned upright in %.0f s", time.monotonic() - started)
    parts: dict[str, list] = {"train": [], "val": []}
    for photo in photos:
        if photo.split != "train":
            continue
        part = "val" if _val_group(photo.group) else "train"
        parts[part] += _falls_samples(finder, photo, turns[photo.path])
    parts["train"] += _coco_samples(finder, data)
    result = {}
    for part, samples in parts.items():
        result[f"{part}_x"] = np.concatenate([s[0] for s in samples]).astype(np.float32)
        result[f"{part}_y"] = np.concatenate([s[1] for s in samples])
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **result)
    log.info(
        "%d train and %d held-out samples in %.0f s",
        len(result["train_y"]),
        len(result["val_y"]),
        time.monotonic() - started,
    )
    return result


class PostureNet(nn.Module):
    """Standardization (fixed), a small MLP, and a softmax: features -> probabilities of POSTURE_CLASSES."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, config: PostureTrainConfig) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("inv_std", torch.tensor(1.0 / std, dtype=torch.float32))
        layers: list[nn.Module] = [nn.Dropout(config.input_dropout)]
        width = NUM_FEATURES
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            width = hidden
        layers.append(nn.Linear(width, len(POSTURE_CLASSES)))
        self.body = nn.Sequential(*layers)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.body((features - self.mean) * self.inv_std)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(features), dim=1)


def posture_loss(logits: torch.Tensor, labels: torch.Tensor, none_weight: float) -> torch.Tensor:
    """Cross-entropy on labeled samples; for people of unknown posture, -log(1 - p(none))."""
    log_p = torch.log_softmax(logits, dim=1)
    known = labels >= 0
    weights = torch.where(labels == 0, none_weight, 1.0)
    loss = torch.zeros((), dtype=logits.dtype)
    if known.any():
        picked = log_p[known].gather(1, labels[known, None])[:, 0]
        loss = loss - (weights[known] * picked).sum()
    unknown = ~known
    if unknown.any():
        person = torch.logsumexp(log_p[unknown, 1:], dim=1)
        loss = loss - person.sum()
    return loss / max(len(labels), 1)


def train_posture(samples: dict[str, np.ndarray], config: PostureTrainConfig, out: Path) -> tuple[PostureNet, dict]:
    """Full-batch training; the epoch with the lowest held-out loss is kept."""
    torch.manual_seed(config.seed)
    train_x, train_y = samples["train_x"], samples["train_y"]
    val_x, val_y = samples["val_x"], samples["val_y"]
    std = train_x.std(axis=0)
    model = PostureNet(train_x.mean(axis=0), np.where(std > 1e-6, std, 1.0), config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    tx, ty = torch.tensor(train_x), torch.tensor(train_y)
    vx, vy = torch.tensor(val_x), torch.tensor(val_y)
    best_loss, best_state, best_epoch, history = float("inf"), None, -1, []
    for epoch in range(config.epochs):
        model.train()
        optimizer.zero_grad()
        loss = posture_loss(model.logits(tx), ty, config.none_weight)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(posture_loss(model.logits(vx), vy, config.none_weight))
        history.append({"epoch": epoch, "train_loss": float(loss), "val_loss": val_loss})
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        predicted = model(vx).argmax(dim=1).numpy()
    confusion = np.zeros((len(POSTURE_CLASSES), len(POSTURE_CLASSES)), int)
    for truth, guess in zip(val_y, predicted, strict=True):
        if truth >= 0:
            confusion[truth, guess] += 1
    record = {
        "config": asdict(config),
        "torch": torch.__version__,
        "train_samples": int(len(train_y)),
        "val_samples": int(len(val_y)),
        "best_epoch": best_epoch,
        "best_val_loss": best_loss,
        "val_confusion": {"labels": list(POSTURE_CLASSES), "rows_truth_columns_guess": confusion.tolist()},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_log.json").write_text(json.dumps({**record, "history": history}, indent=2) + "\n")
    return model, record


def export_posture_onnx(model: PostureNet, path: Path) -> None:
    """The network as ONNX: input ``features`` [N, F] float32, output ``probabilities`` [N, 4]."""
    example = torch.zeros(2, NUM_FEATURES)
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["features"],
        output_names=["probabilities"],
        dynamic_axes={"features": {0: "n"}, "probabilities": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )


MANIFEST_ENTRY = {
    "task": "posture",
    "description": "Small MLP trained by this project on the people finder's candidates: whether a person box "
    "holds one whole person, and standing, sitting or lying, from the pose, the box, the detector's score and "
    "the detector's (nanodet_m) features pooled over the box.",
    "license": "MIT",
    "input": {"layout": "NF", "features": NUM_FEATURES},
    "labels": list(POSTURE_CLASSES),
    "data": "falls/ train part (clips and source photos; 15% of the groups held out for the epoch), upright and "
    "turned by a quarter; COCO-mini tuning half, as is and turned by a quarter; all mirrored",
}
