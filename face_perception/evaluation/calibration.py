"""Temperature scaling of the eyewear head, fitted on held-out UTKFace train labels.

Which labeled train images a model never trained on follows from its manifest training record:
a single run held out ``val_fraction`` of each class with its seed; for an average of runs
(``average_of``), each image is scored by the mean of the members that held it out (out-of-fold),
so no probability used for fitting comes from a network that saw the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from face_perception.core.errors import ModelError
from face_perception.core.models.eyewear import apply_temperature
from face_perception.core.preprocess import chips_to_tensor
from face_perception.core.runtime import ModelStore

EYEWEAR_VAL_FRACTION = 0.15  # the held-out share of `face-perception train glasses`


@dataclass(frozen=True)
class TemperatureFit:
    """A fitted temperature and what it does on the images it was fitted on."""

    temperature: float
    images: int
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float


def binary_nll(probability: np.ndarray, truth: np.ndarray) -> float:
    p = np.clip(probability, 1e-7, 1 - 1e-7)
    return float(-np.mean(np.where(truth, np.log(p), np.log(1 - p))))


def binary_ece(probability: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the predicted label's confidence (as in the eval reports)."""
    from face_perception.evaluation.metrics import calibration

    worn = probability >= 0.5
    return calibration(np.maximum(probability, 1 - probability), worn == truth, bins).ece


def fit_temperature(probability: np.ndarray, truth: np.ndarray) -> TemperatureFit:
    """The temperature T minimizing the negative log-likelihood of sigmoid(logit(p) / T)."""
    probability = np.asarray(probability, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    if len(probability) != len(truth) or len(truth) == 0 or truth.all() or not truth.any():
        raise ValueError("fitting a temperature needs probabilities and labels of both classes, as many of each")
    found = minimize_scalar(
        lambda log_t: binary_nll(apply_temperature(probability, float(np.exp(log_t))), truth),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    temperature = float(np.exp(found.x))
    scaled = apply_temperature(probability, temperature)
    return TemperatureFit(
        temperature=temperature,
        images=len(truth),
        nll_before=binary_nll(probability, truth),
        nll_after=binary_nll(scaled, truth),
        ece_before=binary_ece(probability, truth),
        ece_after=binary_ece(scaled, truth),
    )


def _member_outputs(model: bytes, members: int) -> bytes:
    """The averaged model with each member's probabilities as extra outputs (``m{i}_probabilities``)."""
    import onnx

    graph = onnx.load_from_string(model)
    produced = {name for node in graph.graph.node for name in node.output}
    for index in range(members):
        name = f"m{index}_probabilities"
        if name not in produced:
            raise ModelError(f"the averaged model has no output {name!r} of member {index}")
        graph.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return graph.SerializeToString()


def heldout_eyewear_probabilities(data: Path, store: ModelStore, model_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Uncalibrated P(eyewear) [N] and truth [N] of the labeled train images the model never trained on.

    Raises:
        ModelError: the manifest entry has no training record to tell which images were held out.
    """
    import onnxruntime as ort

    from face_perception.evaluation.datasets import utkface_chips
    from face_perception.training.data import glasses_rows, stratified_split

    entry = store.entry(model_id)
    training = entry.raw.get("training")
    if not training:
        raise ModelError(f"{model_id}: no training record in the manifest, so its held-out images are unknown")
    runs = training.get("average_of", [training])
    seeds = [int(run["config"]["seed"]) for run in runs]
    rows = glasses_rows(data, "train")
    truth = np.array([label != "none" for _, label in rows])
    held = np.zeros((len(seeds), len(rows)), dtype=bool)
    for index, seed in enumerate(seeds):
        held[index, stratified_split(truth.astype(np.int64), EYEWEAR_VAL_FRACTION, seed)[1]] = True
    used = held.any(axis=0)
    spec = entry.input_spec
    chips = utkface_chips([rows[i][0] for i in np.flatnonzero(used)], spec.size, spec.crop_padding)
    model = store.verified_bytes(model_id)
    if len(seeds) > 1:
        model = _member_outputs(model, len(seeds))
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: chips_to_tensor(chips, spec)})
    members = np.stack([o[:, 1] for o in (outputs[1:] if len(seeds) > 1 else outputs[:1])])  # [M, N]
    mask = held[:, used]
    probability = (members * mask).sum(axis=0) / mask.sum(axis=0)
    return probability, truth[used]


AGE_INTERVAL_COVERAGE = 0.683  # share of faces whose true age lies within age +- uncertainty


@dataclass(frozen=True)
class AgeUncertaintyFit:
    """Coefficients of the age uncertainty (see ``AgeEstimator``) and the coverage they reach."""

    offset_years: float
    per_sd: float
    per_year: float
    images: int
    coverage: float


def fit_age_uncertainty(age: np.ndarray, spread: np.ndarray, truth: np.ndarray) -> AgeUncertaintyFit:
    """Quantile regression of |error| on (1, spread, age) at ``AGE_INTERVAL_COVERAGE`` (a linear program)."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, eye, hstack

    error = np.abs(np.asarray(age, float) - np.asarray(truth, float))
    features = np.stack([np.ones_like(error), np.asarray(spread, float), np.asarray(age, float)], axis=1)
    count, terms = features.shape
    tau = AGE_INTERVAL_COVERAGE
    # minimize tau * sum(over) + (1 - tau) * sum(under)  with  features @ w + over - under = error
    cost = np.concatenate([np.zeros(terms), np.full(count, tau), np.full(count, 1 - tau)])
    constraints = hstack([csr_matrix(features), eye(count), -eye(count)]).tocsr()
    bounds = [(None, None)] * terms + [(0, None)] * (2 * count)
    found = linprog(cost, A_eq=constraints, b_eq=error, bounds=bounds, method="highs")
    if not found.success:
        raise ValueError(f"age uncertainty fit failed: {found.message}")
    offset, per_sd, per_year = (float(v) for v in found.x[:terms])
    return AgeUncertaintyFit(offset, per_sd, per_year, count, float(np.mean(error <= features @ found.x[:terms])))


def utkface_age_outputs(data: Path, store: ModelStore, model_id: str, split: str) -> tuple[np.ndarray, ...]:
    """Age [N], bin spread [N] and true age [N] of a UTKFace split, with the age head's chips."""
    import onnxruntime as ort

    from face_perception.core.models.age import bin_moments
    from face_perception.evaluation.datasets import utkface_chips, utkface_samples

    entry = store.entry(model_id)
    samples = utkface_samples(data, split)
    spec = entry.input_spec
    session = ort.InferenceSession(store.verified_bytes(model_id), providers=["CPUExecutionProvider"])
    chips = utkface_chips([s.path for s in samples], spec.size, spec.crop_padding)
    name = session.get_inputs()[0].name
    outputs = np.concatenate(
        [session.run(None, {name: chips_to_tensor(chips[i : i + 256], spec)})[0] for i in range(0, len(chips), 256)]
    )
    age, spread = bin_moments(outputs, np.asarray(entry.raw["bin_ages"], float))
    return age, spread, np.array([s.age for s in samples], float)
