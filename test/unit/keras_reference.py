"""An independent NumPy forward pass of a Keras 2 HDF5 mini-Xception, for parity tests.

Works in NHWC like Keras itself, with TensorFlow's SAME padding worked out explicitly,
so it shares no layout or padding logic with the ONNX exporter under test.
"""

from __future__ import annotations

import numpy as np

from face_perception.export.keras_h5 import read_keras_h5


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: str, value: float) -> np.ndarray:
    if padding == "valid":
        return x
    top, bottom = _same_pads(x.shape[1], kernel[0], stride[0])
    left, right = _same_pads(x.shape[2], kernel[1], stride[1])
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """[N, OH, OW, kh, kw, C] view of every window."""
    view = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))  # N, H', W', C, kh, kw
    return view[:, :: stride[0], :: stride[1]].transpose(0, 1, 2, 4, 5, 3)


def conv2d(x, kernel, stride, padding, bias=None):
    kh, kw = kernel.shape[:2]
    windows = _windows(_pad(x, (kh, kw), stride, padding, 0.0), (kh, kw), stride)
    out = np.einsum("nhwijc,ijco->nhwo", windows, kernel)
    return out + bias if bias is not None else out


def depthwise2d(x, kernel, stride, padding):
    kh, kw = kernel.shape[:2]
    windows = _windows(_pad(x, (kh, kw), stride, padding, 0.0), (kh, kw), stride)
    return np.einsum("nhwijc,ijc->nhwc", windows, kernel[..., 0])


def maxpool2d(x, pool, stride, padding):
    windows = _windows(_pad(x, pool, stride, padding, -np.inf), pool, stride)
    return windows.max(axis=(3, 4))


def keras_forward(path, batch_nhwc: np.ndarray) -> np.ndarray:
    """Class probabilities of the HDF5 model for a float64 NHWC batch."""
    layers, weights = read_keras_h5(path)
    values: dict[str, np.ndarray] = {}
    for layer in layers:
        kind, config = layer["class_name"], layer["config"]
        name = config["name"]
        inputs = [values[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, {})
        if kind == "InputLayer":
            out = batch_nhwc.astype(np.float64)
        elif kind == "Conv2D":
            out = conv2d(inputs[0], w["kernel"], config["strides"], config["padding"], w.get("bias"))
        elif kind == "SeparableConv2D":
            mid = depthwise2d(inputs[0], w["depthwise_kernel"], config["strides"], config["padding"])
            out = conv2d(mid, w["pointwise_kernel"], (1, 1), "valid", w.get("bias"))
        elif kind == "BatchNormalization":
            scale = w["gamma"] / np.sqrt(w["moving_variance"] + config["epsilon"])
            out = (inputs[0] - w["moving_mean"]) * scale + w["beta"]
        elif kind == "Activation":
            out = inputs[0]
        elif kind == "MaxPooling2D":
            out = maxpool2d(inputs[0], tuple(config["pool_size"]), tuple(config["strides"]), config["padding"])
        elif kind == "Add":
            out = sum(inputs)
        elif kind == "GlobalAveragePooling2D":
            out = inputs[0].mean(axis=(1, 2))
        else:
            raise AssertionError(f"reference has no {kind}")
        activation = config.get("activation", "linear")
        if activation == "relu":
            out = np.maximum(out, 0.0)
        elif activation == "softmax":
            exp = np.exp(out - out.max(axis=-1, keepdims=True))
            out = exp / exp.sum(axis=-1, keepdims=True)
        values[name] = out
    return values[layers[-1]["config"]["name"]]
