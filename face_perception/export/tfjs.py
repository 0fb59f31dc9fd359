"""Convert a TensorFlow.js graph model (``model.json`` + weight shards) to ONNX, without TensorFlow.

The graph's nodes are TensorFlow ops in NHWC layout. Each op the supported graphs use is
mapped to ONNX nodes: fused convolutions are split into Conv, bias and activation; NHWC
ops (convolution, pooling, resize) are wrapped in transposes to NCHW, which ONNX Runtime
cancels when it optimizes the graph. Subgraphs of constants are folded with NumPy.
Weights stored as float16 stay float16 in the ONNX file, followed by a Cast to float32,
so the file is as small as the source and computes with the very same values.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from face_perception.core.errors import ModelError

OPSET = 18
_NCHW = (0, 3, 1, 2)
_NHWC = (0, 2, 3, 1)
_TF_DTYPES: dict[str, np.dtype] = {
    "DT_FLOAT": np.dtype(np.float32),
    "DT_INT32": np.dtype(np.int32),
    "DT_INT64": np.dtype(np.int64),
    "DT_BOOL": np.dtype(np.bool_),
}
_MANIFEST_DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "int32": np.dtype(np.int32),
    "bool": np.dtype(np.bool_),
}
_ONNX_DTYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}
_ALIASES = {"Add": "AddV2", "_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}
_HALF_MIN_SIZE = 64  # smaller float constants are stored as float32


@dataclass(frozen=True)
class TfjsGraph:
    """A parsed TFJS graph model: its nodes, decoded weights and signature."""

    nodes: list[dict[str, Any]]
    weights: dict[str, np.ndarray]
    signature: dict[str, Any]


def decode_weights(manifest: list[dict[str, Any]], shards: dict[str, bytes]) -> dict[str, np.ndarray]:
    """Every weight of a ``weightsManifest``, float16-quantized ones widened to float32."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        try:
            data = b"".join(shards[path] for path in group["paths"])
        except KeyError as error:
            raise ModelError(f"weight shard {error.args[0]!r} is missing") from error
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape, dtype=np.int64))
            quantization = spec.get("quantization")
            if quantization:
                if quantization.get("dtype") != "float16":
                    raise ModelError(f"weight {spec['name']!r}: quantization {quantization} is not supported")
                stored = np.dtype("<f2")
            elif spec["dtype"] in _MANIFEST_DTYPES:
                stored = _MANIFEST_DTYPES[spec["dtype"]].newbyteorder("<")
            else:
                raise ModelError(f"weight {spec['name']!r}: dtype {spec['dtype']!r} is not supported")
            size = count * stored.itemsize
            if offset + size > len(data):
                raise ModelError(f"weight {spec['name']!r} runs past the end of its shards")
            values = np.frombuffer(data, dtype=stored, count=count, offset=offset).reshape(shape)
            weights[spec["name"]] = values.astype(_MANIFEST_DTYPES[spec["dtype"]])
            offset += size
        if offset != len(data):
            raise ModelError(f"weight shards {group['paths']} hold {len(data) - offset} bytes no weight uses")
    return weights


def read_tfjs_graph(model_json: bytes, shards: dict[str, bytes]) -> TfjsGraph:
    """Parse ``model.json`` and decode its weights from ``shards`` (file name -> bytes)."""
    try:
        model = json.loads(model_json)
        nodes = model["modelTopology"]["node"]
        manifest = model["weightsManifest"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ModelError(f"not a TFJS graph model: {error}") from error
    if model.get("format") != "graph-model":
        raise ModelError(f"TFJS format {model.get('format')!r} is not 'graph-model'")
    return TfjsGraph(nodes=nodes, weights=decode_weights(manifest, shards), signature=model.get("signature", {}))


def _attr(node: dict[str, Any], name: str, default: Any = None) -> Any:
    """A node attribute as a Python value (ints, floats, bools, strings and their lists)."""
    value = node.get("attr", {}).get(name)
    if value is None:
        return default
    if "list" in value:
        items = value["list"]
        if "i" in items:
            return [int(i) for i in items["i"]]
        if "s" in items:
            return [base64.b64decode(s).decode() for s in items["s"]]
        if "f" in items:
            return [float(f) for f in items["f"]]
        return []
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "type" in value:
        return value["type"]
    return value


def _ref(name: str) -> tuple[str, int]:
    """(node name, output index) of an input reference such as ``node:1``."""
    node, _, index = name.partition(":")
    return node, int(index) if index else 0


class _Converter:
    """Walks the TF nodes in order, emitting ONNX nodes and folding constants."""

    def __init__(self, graph: TfjsGraph) -> None:
        self.graph = graph
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.consts: dict[str, np.ndarray] = {}  # "node:index" -> value, for folded constants
        self.tensors: dict[str, str] = {}  # "node:index" -> ONNX tensor name
        self.materialized: dict[str, str] = {}
        self.inputs: list[onnx.ValueInfoProto] = []
        self._count = 0

    # -- helpers -------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        self._count += 1
        return f"{base}__{self._count}"

    def emit(self, op: str, inputs: list[str], base: str, outputs: int = 1, **attrs: Any) -> list[str]:
        names = [self.fresh(base) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, name=names[0], **attrs))
        return names

    def constant(self, value: np.ndarray, base: str) -> str:
        """An initializer holding ``value``; large float16-exact floats are stored as float16 + Cast."""
        name = self.fresh(base)
        value = np.asarray(value)
        if value.dtype == np.float32 and value.size >= _HALF_MIN_SIZE:
            half = value.astype(np.float16)
            if np.array_equal(half.astype(np.float32), value):
                self.initializers.append(numpy_helper.from_array(half, name + "_f16"))
                self.nodes.append(helper.make_node("Cast", [name + "_f16"], [name], name=name, to=TensorProto.FLOAT))
                return name
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def key(self, ref: str) -> str:
        node, index = _ref(ref)
        return f"{node}:{index}"

    def is_const(self, ref: str) -> bool:
        return self.key(ref) in self.consts

    def value(self, ref: str) -> np.ndarray:
        key = self.key(ref)
        if key not in self.consts:
            raise ModelError(f"input {ref!r} must be a constant for this op")
        return self.consts[key]

    def tensor(self, ref: str) -> str:
        key = self.key(ref)
        if key in self.tensors:
            return self.tensors[key]
        if key in self.consts:
            if key not in self.materialized:
                self.materialized[key] = self.constant(self.consts[key], key.replace(":", "_"))
            return self.materialized[key]
        raise ModelError(f"input {ref!r} is used before it is defined")

    def set_outputs(self, node: dict[str, Any], names: list[str]) -> None:
        for index, name in enumerate(names):
            self.tensors[f"{node['name']}:{index}"] = name

    def set_const(self, node: dict[str, Any], values: list[np.ndarray]) -> None:
        for index, value in enumerate(values):
            self.consts[f"{node['name']}:{index}"] = np.asarray(value)

    def nchw(self, fn_inputs: str, base: str) -> str:
        return self.emit("Transpose", [fn_inputs], base + "_nchw", perm=list(_NCHW))[0]

    def nhwc(self, x: str, base: str) -> str:
        return self.emit("Transpose", [x], base + "_nhwc", perm=list(_NHWC))[0]

    # -- conversion ------------------------------------------------------------------------------
    def run(self) -> None:
        for node in self.graph.nodes:
            op = node["op"]
            inputs = [i for i in node.get("input", []) if not i.startswith("^")]
            handler = getattr(self, f"op_{_ALIASES.get(op, op)}", None)
            if handler is None:
                raise ModelError(f"TF op {op!r} (node {node['name']!r}) is not supported by the converter")
            handler(node, inputs)

    def op_Placeholder(self, node: dict[str, Any], inputs: list[str]) -> None:
        dtype = _TF_DTYPES[_attr(node, "dtype")]
        dims = [int(d.get("size", -1)) for d in node["attr"]["shape"]["shape"].get("dim", [])]
        self.inputs.append(helper.make_tensor_value_info(node["name"], _ONNX_DTYPES[dtype], dims))
        self.tensors[f"{node['name']}:0"] = node["name"]

    def op_Const(self, node: dict[str, Any], inputs: list[str]) -> None:
        dtype = _TF_DTYPES.get(_attr(node, "dtype"))
        if dtype is None:
            raise ModelError(f"constant {node['name']!r} has unsupported dtype {_attr(node, 'dtype')}")
        if node["name"] in self.graph.weights:
            value = self.graph.weights[node["name"]].astype(dtype)
        else:  # empty tensors carry no weight bytes
            dims = [int(d.get("size", 0)) for d in node["attr"]["value"]["tensor"]["tensorShape"].get("dim", [])]
            if int(np.prod(dims)) != 0:
                raise ModelError(f"constant {node['name']!r} has no weights")
            value = np.zeros(dims, dtype=dtype)
        self.set_const(node, [value])

    def op_Identity(self, node: dict[str, Any], inputs: list[str]) -> None:
        if self.is_const(inputs[0]):
            self.set_const(node, [self.value(inputs[0])])
        else:
            self.tensors[f"{node['name']}:0"] = self.tensor(inputs[0])

    def _fold_or_emit(self, node: dict[str, Any], inputs: list[str], fold, op: str, **attrs: Any) -> None:
        if all(self.is_const(i) for i in inputs):
            self.set_const(node, [fold(*(self.value(i) for i in inputs))])
        else:
            self.set_outputs(node, self.emit(op, [self.tensor(i) for i in inputs], node["name"], **attrs))

    def op_AddV2(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._fold_or_emit(node, inputs, np.add, "Add")

    def op_Sub(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._fold_or_emit(node, inputs, np.subtract, "Sub")

    def op_Mul(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._fold_or_emit(node, inputs, np.multiply, "Mul")

    def op_RealDiv(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._fold_or_emit(node, inputs, np.divide, "Div")

    def op_FloorDiv(self, node: dict[str, Any], inputs: list[str]) -> None:
        # ONNX Div truncates integers; the graphs divide non-negative indices, where both agree.
        if all(self.is_const(i) for i in inputs):
            self.set_const(node, [np.floor_divide(*(self.value(i) for i in inputs))])
            return
        (quotient,) = self.emit("Div", [self.tensor(i) for i in inputs], node["name"])
        if _attr(node, "T") == "DT_FLOAT":
            (quotient,) = self.emit("Floor", [quotient], node["name"])
        self.set_outputs(node, [quotient])

    def op_SquaredDifference(self, node: dict[str, Any], inputs: list[str]) -> None:
        (difference,) = self.emit("Sub", [self.tensor(i) for i in inputs], node["name"])
        self.set_outputs(node, self.emit("Mul", [difference, difference], node["name"]))

    def _unary(self, node: dict[str, Any], inputs: list[str], op: str, **attrs: Any) -> None:
        self.set_outputs(node, self.emit(op, [self.tensor(inputs[0])], node["name"], **attrs))

    def op_Sqrt(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._unary(node, inputs, "Sqrt")

    def op_Sigmoid(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._unary(node, inputs, "Sigmoid")

    def op_Relu(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._unary(node, inputs, "Relu")

    def op_LeakyRelu(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._unary(node, inputs, "LeakyRelu", alpha=_attr(node, "alpha", 0.2))

    def op_Cast(self, node: dict[str, Any], inputs: list[str]) -> None:
        dtype = _TF_DTYPES[_attr(node, "DstT")]
        if self.is_const(inputs[0]):
            self.set_const(node, [self.value(inputs[0]).astype(dtype)])
        else:
            self._unary(node, inputs, "Cast", to=_ONNX_DTYPES[dtype])

    def op_Reshape(self, node: dict[str, Any], inputs: list[str]) -> None:
        shape = self.value(inputs[1]).astype(np.int64)
        if self.is_const(inputs[0]):
            self.set_const(node, [self.value(inputs[0]).reshape(shape)])
            return
        shape_name = self.constant(shape, node["name"] + "_shape")
        self.set_outputs(node, self.emit("Reshape", [self.tensor(inputs[0]), shape_name], node["name"]))

    def op_ExpandDims(self, node: dict[str, Any], inputs: list[str]) -> None:
        axes = self.constant(self.value(inputs[1]).astype(np.int64).reshape(-1), node["name"] + "_axes")
        self.set_outputs(node, self.emit("Unsqueeze", [self.tensor(inputs[0]), axes], node["name"]))

    def op_Squeeze(self, node: dict[str, Any], inputs: list[str]) -> None:
        axes = self.constant(np.asarray(_attr(node, "squeeze_dims"), dtype=np.int64), node["name"] + "_axes")
        self.set_outputs(node, self.emit("Squeeze", [self.tensor(inputs[0]), axes], node["name"]))

    def op_Transpose(self, node: dict[str, Any], inputs: list[str]) -> None:
        perm = [int(p) for p in self.value(inputs[1])]
        self.set_outputs(node, self.emit("Transpose", [self.tensor(inputs[0])], node["name"], perm=perm))

    def op_Unpack(self, node: dict[str, Any], inputs: list[str]) -> None:
        axis, num = _attr(node, "axis", 0), _attr(node, "num")
        parts = self.emit("Split", [self.tensor(inputs[0])], node["name"], outputs=num, axis=axis, num_outputs=num)
        axes = self.constant(np.asarray([axis], dtype=np.int64), node["name"] + "_axes")
        self.set_outputs(node, [self.emit("Squeeze", [p, axes], node["name"])[0] for p in parts])

    def op_Pack(self, node: dict[str, Any], inputs: list[str]) -> None:
        axis = _attr(node, "axis", 0)
        axes = self.constant(np.asarray([axis], dtype=np.int64), node["name"] + "_axes")
        parts = [self.emit("Unsqueeze", [self.tensor(i), axes], node["name"])[0] for i in inputs]
        self.set_outputs(node, self.emit("Concat", parts, node["name"], axis=axis))

    def op_ConcatV2(self, node: dict[str, Any], inputs: list[str]) -> None:
        axis = int(self.value(inputs[-1]))
        self.set_outputs(node, self.emit("Concat", [self.tensor(i) for i in inputs[:-1]], node["name"], axis=axis))

    def op_SplitV(self, node: dict[str, Any], inputs: list[str]) -> None:
        sizes = self.constant(self.value(inputs[1]).astype(np.int64), node["name"] + "_split")
        axis = int(self.value(inputs[2]))
        outputs = self.emit(
            "Split", [self.tensor(inputs[0]), sizes], node["name"], outputs=_attr(node, "num_split"), axis=axis
        )
        self.set_outputs(node, outputs)

    def _pad(self, node: dict[str, Any], inputs: list[str], value: str | None) -> None:
        pads = self.value(inputs[1]).astype(np.int64)  # [rank, 2]
        pads_name = self.constant(np.concatenate([pads[:, 0], pads[:, 1]]), node["name"] + "_pads")
        args = [self.tensor(inputs[0]), pads_name] + ([value] if value else [])
        self.set_outputs(node, self.emit("Pad", args, node["name"], mode="constant"))

    def op_Pad(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._pad(node, inputs, None)

    def op_PadV2(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._pad(node, inputs, self.tensor(inputs[2]))

    def op_SparseToDense(self, node: dict[str, Any], inputs: list[str]) -> None:
        indices, shape, values, default = (self.value(i) for i in inputs)
        dense = np.full(shape.astype(np.int64), default, dtype=values.dtype)
        if indices.size:
            dense[tuple(indices.reshape(len(indices), -1).T)] = values
        self.set_const(node, [dense])

    def op_ArgMax(self, node: dict[str, Any], inputs: list[str]) -> None:
        axis = int(self.value(inputs[1]))
        (index,) = self.emit("ArgMax", [self.tensor(inputs[0])], node["name"], axis=axis, keepdims=0)
        dtype = _TF_DTYPES[_attr(node, "output_type", "DT_INT64")]
        if dtype != np.int64:
            (index,) = self.emit("Cast", [index], node["name"], to=_ONNX_DTYPES[dtype])
        self.set_outputs(node, [index])

    def op_GatherNd(self, node: dict[str, Any], inputs: list[str]) -> None:
        (indices,) = self.emit("Cast", [self.tensor(inputs[1])], node["name"], to=TensorProto.INT64)
        self.set_outputs(node, self.emit("GatherND", [self.tensor(inputs[0]), indices], node["name"]))

    # -- NHWC ops ----------------------------------------------------------------------------------
    def _spatial(self, node: dict[str, Any]) -> dict[str, Any]:
        if _attr(node, "data_format", "NHWC") != "NHWC":
            raise ModelError(f"node {node['name']!r}: only NHWC is supported")
        strides = _attr(node, "strides", [1, 1, 1, 1])
        attrs: dict[str, Any] = {"strides": strides[1:3]}
        padding = _attr(node, "padding")
        if padding == "SAME":
            attrs["auto_pad"] = "SAME_UPPER"
        elif padding == "EXPLICIT":
            pads = _attr(node, "explicit_paddings")
            attrs["pads"] = [pads[2], pads[4], pads[3], pads[5]]
        elif padding != "VALID":
            raise ModelError(f"node {node['name']!r}: padding {padding!r} is not supported")
        return attrs

    def _activation(self, node: dict[str, Any], x: str, fused: list[str]) -> str:
        for op in fused:
            if op in ("BiasAdd", "FusedBatchNorm"):
                continue
            if op == "Relu":
                (x,) = self.emit("Relu", [x], node["name"])
            elif op == "Relu6":
                low = self.constant(np.asarray(0.0, np.float32), node["name"] + "_lo")
                high = self.constant(np.asarray(6.0, np.float32), node["name"] + "_hi")
                (x,) = self.emit("Clip", [x, low, high], node["name"])
            elif op == "LeakyRelu":
                (x,) = self.emit("LeakyRelu", [x], node["name"], alpha=_attr(node, "leakyrelu_alpha", 0.2))
            else:
                raise ModelError(f"node {node['name']!r}: fused op {op!r} is not supported")
        return x

    def _conv(self, node: dict[str, Any], inputs: list[str], kernel: np.ndarray, group: int) -> None:
        fused = _attr(node, "fused_ops", [])
        if fused and fused[0] not in ("BiasAdd",):
            raise ModelError(f"node {node['name']!r}: fused ops {fused} are not supported")
        attrs = self._spatial(node)
        attrs["dilations"] = _attr(node, "dilations", [1, 1, 1, 1])[1:3]
        args = [self.nchw(self.tensor(inputs[0]), node["name"]), self.constant(kernel, node["name"] + "_w")]
        if fused:
            args.append(self.constant(self.value(inputs[2]).astype(np.float32), node["name"] + "_b"))
        (x,) = self.emit("Conv", args, node["name"], group=group, **attrs)
        self.set_outputs(node, [self.nhwc(self._activation(node, x, fused), node["name"])])

    def op_Conv2D(self, node: dict[str, Any], inputs: list[str]) -> None:
        kernel = self.value(inputs[1])  # HWIO
        self._conv(node, inputs, np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)), 1)

    def op_DepthwiseConv2dNative(self, node: dict[str, Any], inputs: list[str]) -> None:
        kernel = self.value(inputs[1])  # H, W, C, multiplier
        height, width, channels, multiplier = kernel.shape
        onnx_kernel = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, height, width)
        self._conv(node, inputs, np.ascontiguousarray(onnx_kernel), channels)

    def op_MaxPool(self, node: dict[str, Any], inputs: list[str]) -> None:
        attrs = self._spatial(node)
        x = self.nchw(self.tensor(inputs[0]), node["name"])
        (x,) = self.emit("MaxPool", [x], node["name"], kernel_shape=_attr(node, "ksize")[1:3], **attrs)
        self.set_outputs(node, [self.nhwc(x, node["name"])])

    def op_ResizeBilinear(self, node: dict[str, Any], inputs: list[str]) -> None:
        if _attr(node, "align_corners", False):
            mode = "align_corners"
        elif _attr(node, "half_pixel_centers", False):
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        sizes = self.constant(self.value(inputs[1]).astype(np.int64), node["name"] + "_sizes")
        x = self.nchw(self.tensor(inputs[0]), node["name"])
        (x,) = self.emit(
            "Resize",
            [x, "", "", sizes],
            node["name"],
            mode="linear",
            axes=[2, 3],
            coordinate_transformation_mode=mode,
        )
        self.set_outputs(node, [self.nhwc(x, node["name"])])


def tfjs_to_onnx(graph: TfjsGraph, outputs: dict[str, str], doc: str = "") -> onnx.ModelProto:
    """The ONNX model of ``graph``; ``outputs`` maps TF output names (``Identity:0``) to ONNX names."""
    converter = _Converter(graph)
    converter.run()
    nodes = list(converter.nodes)
    output_infos = []
    for tf_name, onnx_name in outputs.items():
        key = converter.key(tf_name)
        if key not in converter.tensors:
            raise ModelError(f"graph has no output {tf_name!r}")
        nodes.append(helper.make_node("Identity", [converter.tensors[key]], [onnx_name], name=onnx_name))
        declared = graph.signature.get("outputs", {}).get(tf_name, {}).get("tensorShape", {}).get("dim", [])
        dims = [int(d.get("size", -1)) for d in declared]
        output_infos.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, dims))
    onnx_graph = helper.make_graph(nodes, "tfjs", converter.inputs, output_infos, converter.initializers)
    model = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="face_perception", doc_string=doc
    )
    model.ir_version = 8
    model = _prune(model)
    onnx.checker.check_model(model)
    return model


def _prune(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop nodes and initializers no output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    kept: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    return model
