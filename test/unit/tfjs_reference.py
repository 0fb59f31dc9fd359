"""An independent NumPy interpreter of TFJS graph models (NHWC, float64), for parity tests.

It reads ``model.json`` and the weight shards itself and runs every TF op as TensorFlow
defines it (SAME padding worked out explicitly, half-pixel bilinear resize by gathering),
sharing no code with the ONNX converter under test.
"""

from __future__ import annotations

import base64
import json

import numpy as np

_DTYPES = {"DT_FLOAT": np.float64, "DT_INT32": np.int64, "DT_INT64": np.int64, "DT_BOOL": np.bool_}


def read_weights(model: dict, shards: dict[str, bytes]) -> dict[str, np.ndarray]:
    weights = {}
    for group in model["weightsManifest"]:
        data = b"".join(shards[p] for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"]))
            kind = (
                "<f2"
                if w.get("quantization", {}).get("dtype") == "float16"
                else {"float32": "<f4", "int32": "<i4"}[w["dtype"]]
            )
            array = np.frombuffer(data, dtype=kind, count=count, offset=offset).reshape(w["shape"])
            weights[w["name"]] = array
            offset += count * np.dtype(kind).itemsize
    return weights


def _attr(node: dict, name: str, default=None):
    value = node.get("attr", {}).get(name)
    if value is None:
        return default
    if "list" in value:
        items = value["list"]
        if "s" in items:
            return [base64.b64decode(s).decode() for s in items["s"]]
        return [int(i) for i in items.get("i", [])]
    for key, cast in (("i", int), ("f", float), ("b", bool)):
        if key in value:
            return cast(value[key])
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    return value.get("type")


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _windows(x: np.ndarray, kh: int, kw: int, strides: list[int], padding: str, fill: float) -> np.ndarray:
    """[N, OH, OW, kh, kw, C] windows of x after TF padding."""
    sh, sw = strides[1], strides[2]
    if padding == "SAME":
        top, bottom = _same_pads(x.shape[1], kh, sh)
        left, right = _same_pads(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    return view[:, ::sh, ::sw].transpose(0, 1, 2, 4, 5, 3)


def _fused(node: dict, x: np.ndarray, args: list[np.ndarray]) -> np.ndarray:
    for op in _attr(node, "fused_ops", []):
        if op == "BiasAdd":
            x = x + args[0]
        elif op == "Relu":
            x = np.maximum(x, 0)
        elif op == "Relu6":
            x = np.clip(x, 0, 6)
        else:
            raise AssertionError(f"reference has no fused {op}")
    return x


def _resize_bilinear(x: np.ndarray, size: np.ndarray, half_pixel: bool, align_corners: bool) -> np.ndarray:
    out_h, out_w = int(size[0]), int(size[1])

    def axis(in_size: int, out_size: int):
        if align_corners and out_size > 1:
            source = np.arange(out_size) * (in_size - 1) / (out_size - 1)
        elif half_pixel:
            source = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
        else:
            source = np.arange(out_size) * in_size / out_size
        low = np.floor(source)
        frac = source - low
        low_i = np.clip(low.astype(int), 0, in_size - 1)
        high_i = np.clip(low.astype(int) + 1, 0, in_size - 1)
        return low_i, high_i, frac

    y0, y1, fy = axis(x.shape[1], out_h)
    x0, x1, fx = axis(x.shape[2], out_w)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bottom * fy[None, :, None, None]


def run_graph(model_json: bytes, shards: dict[str, bytes], feeds: dict[str, np.ndarray], outputs: list[str]) -> list:
    """Values of ``outputs`` (TF names such as ``Identity:0``) for the given input arrays."""
    model = json.loads(model_json)
    weights = read_weights(model, shards)
    values: dict[str, np.ndarray] = {}

    def get(ref: str) -> np.ndarray:
        name, _, index = ref.partition(":")
        return values[f"{name}:{index or 0}"]

    for node in model["modelTopology"]["node"]:
        op, name = node["op"], node["name"]
        args = [get(i) for i in node.get("input", []) if not i.startswith("^")]
        if op == "Const":
            dtype = _DTYPES[_attr(node, "dtype")]
            if name in weights:
                out = weights[name].astype(dtype)
            else:
                dims = [int(d.get("size", 0)) for d in node["attr"]["value"]["tensor"]["tensorShape"].get("dim", [])]
                out = np.zeros(dims, dtype)
        elif op == "Placeholder":
            out = feeds[name].astype(_DTYPES[_attr(node, "dtype")])
        elif op == "Identity":
            out = args[0]
        elif op == "Cast":
            out = args[0].astype(_DTYPES[_attr(node, "DstT")])
        elif op in ("AddV2", "Add"):
            out = args[0] + args[1]
        elif op == "Sub":
            out = args[0] - args[1]
        elif op == "Mul":
            out = args[0] * args[1]
        elif op == "RealDiv":
            out = args[0] / args[1]
        elif op == "FloorDiv":
            out = np.floor_divide(args[0], args[1])
        elif op == "SquaredDifference":
            out = (args[0] - args[1]) ** 2
        elif op == "Sqrt":
            out = np.sqrt(args[0])
        elif op == "Sigmoid":
            out = 1.0 / (1.0 + np.exp(-args[0]))
        elif op == "LeakyRelu":
            out = np.where(args[0] > 0, args[0], args[0] * _attr(node, "alpha"))
        elif op == "Reshape":
            out = args[0].reshape(args[1].astype(int))
        elif op == "ExpandDims":
            out = np.expand_dims(args[0], int(args[1]))
        elif op == "Squeeze":
            out = np.squeeze(args[0], axis=tuple(_attr(node, "squeeze_dims")))
        elif op == "Transpose":
            out = args[0].transpose(args[1].astype(int))
        elif op == "Pack":
            out = np.stack(args, axis=_attr(node, "axis", 0))
        elif op == "Unpack":
            axis = _attr(node, "axis", 0)
            for i in range(args[0].shape[axis]):
                values[f"{name}:{i}"] = np.take(args[0], i, axis=axis)
            continue
        elif op == "ConcatV2":
            out = np.concatenate(args[:-1], axis=int(args[-1]))
        elif op == "SplitV":
            cuts = np.cumsum(args[1].astype(int))[:-1]
            for i, part in enumerate(np.split(args[0], cuts, axis=int(args[2]))):
                values[f"{name}:{i}"] = part
            continue
        elif op in ("Pad", "PadV2"):
            fill = args[2] if op == "PadV2" else 0
            out = np.pad(args[0], args[1].astype(int), constant_values=fill)
        elif op == "SparseToDense":
            out = np.full(args[1].astype(int), args[3], dtype=args[2].dtype)
            if args[0].size:
                out[tuple(args[0].reshape(len(args[0]), -1).T)] = args[2]
        elif op == "ArgMax":
            out = np.argmax(args[0], axis=int(args[1]))
        elif op == "GatherNd":
            indices = args[1].astype(int)
            out = args[0][tuple(np.moveaxis(indices, -1, 0))]
        elif op in ("Conv2D", "_FusedConv2D"):
            kernel = args[1]
            windows = _windows(
                args[0], kernel.shape[0], kernel.shape[1], _attr(node, "strides"), _attr(node, "padding"), 0.0
            )
            out = _fused(node, np.einsum("nhwijc,ijco->nhwo", windows, kernel.astype(np.float64)), args[2:])
        elif op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
            kernel = args[1]
            windows = _windows(
                args[0], kernel.shape[0], kernel.shape[1], _attr(node, "strides"), _attr(node, "padding"), 0.0
            )
            out = _fused(node, np.einsum("nhwijc,ijc->nhwc", windows, kernel[..., 0].astype(np.float64)), args[2:])
        elif op == "MaxPool":
            ksize = _attr(node, "ksize")
            windows = _windows(args[0], ksize[1], ksize[2], _attr(node, "strides"), _attr(node, "padding"), -np.inf)
            out = windows.max(axis=(3, 4))
        elif op == "ResizeBilinear":
            out = _resize_bilinear(
                args[0], args[1], _attr(node, "half_pixel_centers", False), _attr(node, "align_corners", False)
            )
        else:
            raise AssertionError(f"reference has no op {op}")
        values[f"{name}:0"] = out
    return [get(o) for o in outputs]
