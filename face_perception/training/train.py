"""Training of a ChipNet classifier: fixed seed, config, log; augmentation on the training device;
the checkpoint with the best held-out accuracy is exported to ONNX."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from face_perception.training.data import Dataset
from face_perception.training.nets import ChipNet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the result; written into the log next to the model."""

    widths: tuple[int, ...] = (32, 64, 128, 256)
    size: int = 48
    epochs: int = 60
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    dropout: float = 0.2
    rotate_deg: float = 15.0
    scale: float = 0.15
    shift: float = 0.1
    erase_prob: float = 0.3
    class_balance: bool = False
    select_on_balanced_accuracy: bool = False
    seed: int = 0
    teacher: str | None = None  # model id whose probabilities are soft targets (``training.distill``)
    distill_weight: float = 0.7  # share of the soft-target loss; the rest is the hard-label loss


def augment(batch: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """Random flip, rotation, scale, shift, brightness/contrast and erasing, on [N, C, H, W] in [-1, 1]."""
    n, device = batch.shape[0], batch.device

    def uniform(low, high, *shape):
        return torch.rand(n, *shape, generator=generator, device=device) * (high - low) + low

    angle = uniform(-1, 1) * math.radians(config.rotate_deg)
    scale = 1.0 + uniform(-1, 1) * config.scale
    flip = torch.where(torch.rand(n, generator=generator, device=device) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, uniform(-1, 1) * config.shift * 2], 1),
            torch.stack([sin * flip, cos, uniform(-1, 1) * config.shift * 2], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    out = F.grid_sample(batch, grid, padding_mode="border", align_corners=False)
    contrast = uniform(0.7, 1.3, 1, 1, 1)
    brightness = uniform(-0.2, 0.2, 1, 1, 1)
    out = (out * contrast + brightness).clamp(-1, 1)
    if config.erase_prob > 0:
        size = batch.shape[-1]
        erase = torch.rand(n, generator=generator, device=device) < config.erase_prob
        centres = torch.randint(0, size, (n, 2), generator=generator, device=device)
        half = size // 6
        ys = torch.arange(size, device=device).view(1, size, 1)
        xs = torch.arange(size, device=device).view(1, 1, size)
        box = ((ys - centres[:, 0, None, None]).abs() < half) & ((xs - centres[:, 1, None, None]).abs() < half)
        out = torch.where((box & erase[:, None, None]).unsqueeze(1), torch.zeros_like(out), out)
    return out


def to_tensor(images: np.ndarray, size: int, device: torch.device) -> torch.Tensor:
    """uint8 [N, H, W] or [N, H, W, C] to float [N, C, size, size] in [-1, 1] (the models' input scaling)."""
    x = torch.from_numpy(images).to(device)
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    x = x.float() / 127.5 - 1.0
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.contiguous()


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    model.eval()
    return torch.cat([model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` [N, C] against probability targets [N, C]."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()


def train(
    config: TrainConfig,
    train_set: Dataset,
    val_set: Dataset,
    out_dir: Path,
    device: str = "auto",
    soft_targets: np.ndarray | None = None,
) -> tuple[nn.Module, dict]:
    """Train, keep the best epoch on ``val_set``, and write ``out_dir/train_log.json``.

    With ``soft_targets`` [N, classes] (a teacher's probabilities, one row per training sample) the
    loss is ``distill_weight`` times their cross-entropy plus the rest times the hard-label loss
    of the samples whose label is not -1 (``training.distill.UNLABELED``).
    """
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    target = torch.device(
        "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    )
    generator = torch.Generator(device=target).manual_seed(config.seed)
    channels = 1 if train_set.images.ndim == 3 else train_set.images.shape[-1]
    model = ChipNet(channels, len(train_set.classes), config.widths, config.dropout).to(target)
    x_train = to_tensor(train_set.images, config.size, target)
    y_train = torch.from_numpy(train_set.labels).to(target)
    soft = None if soft_targets is None else torch.from_numpy(np.asarray(soft_targets, np.float32)).to(target)
    x_val = to_tensor(val_set.images, config.size, target)
    y_val = torch.from_numpy(val_set.labels).to(target)
    weights = None
    if config.class_balance:
        counts = torch.bincount(y_train[y_train >= 0], minlength=len(train_set.classes)).float()
        weights = (counts.sum() / (len(counts) * counts.clamp(min=1))).to(target)
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing, ignore_index=-1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    history, best, best_state = [], -1.0, None
    started = time.time()
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator, device=target)
        total_loss = 0.0
        for step in range(steps_per_epoch):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            batch = augment(x_train[index], config, generator)
            logits = model.logits(batch)
            if soft is None:
                loss = loss_fn(logits, y_train[index])
            else:
                loss = config.distill_weight * soft_cross_entropy(logits, soft[index])
                if (y_train[index] >= 0).any():
                    loss = loss + (1 - config.distill_weight) * loss_fn(logits, y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.detach() * len(index)
        predicted = predict(model, x_val).argmax(1)
        if config.select_on_balanced_accuracy:
            recalls = [(predicted[y_val == c] == c).float().mean() for c in torch.unique(y_val)]
            accuracy = float(torch.stack(recalls).mean())
        else:
            accuracy = float((predicted == y_val).float().mean())
        history.append(
            {
                "epoch": epoch + 1,
                "loss": float(total_loss) / len(x_train),
                "val_accuracy": accuracy,
                "elapsed_s": round(time.time() - started, 1),
            }
        )
        log.info("epoch %d/%d loss %.4f val %.4f", epoch + 1, config.epochs, history[-1]["loss"], accuracy)
        if accuracy > best:
            best, best_state = accuracy, {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.cpu().eval()
    record = {
        "config": asdict(config),
        "device": str(target),
        "torch": torch.__version__,
        "train_samples": len(x_train),
        "labeled_train_samples": int((y_train >= 0).sum()),
        "val_samples": len(x_val),
        "best_val_accuracy": best,
        "best_epoch": int(np.argmax([h["val_accuracy"] for h in history]) + 1),
        "history": history,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "train_log.json").write_text(json.dumps(record, indent=2) + "\n")
    return model, record


def export_onnx(model: nn.Module, channels: int, size: int, path: Path) -> bytes:
    """ONNX with input ``input`` [N, C, size, size] and output ``probabilities`` [N, classes]."""
    import io

    buffer = io.BytesIO()
    torch.onnx.export(
        model.cpu().eval(),
        torch.zeros(1, channels, size, size),
        buffer,
        input_names=["input"],
        output_names=["probabilities"],
        dynamic_axes={"input": {0: "N"}, "probabilities": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    data = buffer.getvalue()
    path.write_bytes(data)
    return data
