"""PNG plots for the reports (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from face_perception.evaluation.metrics import Calibration  # noqa: E402


def confusion_png(matrix: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.7 * len(labels)))
    axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (row, col), value in np.ndenumerate(normalised):
        axes.text(
            col,
            row,
            f"{value:.2f}\n({matrix[row, col]})",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value > 0.5 else "black",
        )
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def reliability_png(result: Calibration, path: Path, title: str) -> None:
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    centres = (np.arange(len(result.counts)) + 0.5) / len(result.counts)
    axes.bar(
        centres,
        np.nan_to_num(result.accuracy),
        width=1 / len(result.counts),
        edgecolor="black",
        alpha=0.7,
        label="accuracy",
    )
    axes.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"{title}\nECE {result.ece:.3f}")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def groups_png(groups: dict[str, dict[str, tuple[float, int]]], path: Path, title: str, ylabel: str) -> None:
    """One panel per grouping (gender, age band, race, eyewear): value and size of each group."""
    figure, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 3.6), squeeze=False)
    for axis, (name, values) in zip(axes[0], groups.items(), strict=True):
        keys = list(values)
        axis.bar(keys, [values[k][0] for k in keys], color="tab:blue")
        for index, key in enumerate(keys):
            axis.text(
                index, values[key][0], f"{values[key][0]:.3f}\nn={values[key][1]}", ha="center", va="bottom", fontsize=7
            )
        axis.set_ylim(0, 1.25 * max(v[0] for v in values.values()) or 1.0)
        axis.set_title(name, pad=4)
        axis.tick_params(axis="x", rotation=30)
        axis.set_ylabel(ylabel)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
