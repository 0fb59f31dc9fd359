"""Read a network saved by dlib's DNN module (``serialize(net)``) and rebuild it as ONNX.

Only what dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) is
made of is understood: con, affine or bn_con (folded into a per-channel scale and shift), relu,
max_pool, avg_pool, add_prev (residual sums, zero-padded as dlib pads them), fc without bias,
and the metric loss on top. The file is parsed, never executed; its layer sequence is checked
against the architecture dlib's example program declares for the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from face_perception.core.errors import ModelError


class DlibFormatError(ModelError):
    """The bytes are not a dlib network of the expected kind."""


@dataclass(frozen=True)
class Layer:
    """One layer's details, in forward order."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    params: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # con: (filters, rows, cols, stride_y, stride_x, pad_y, pad_x); pools: the same without filters; fc: (outputs,)
    shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class DlibNetwork:
    """A parsed metric-learning network: input normalisation and its layers in forward order."""

    input_size: int
    mean_rgb: tuple[float, float, float]
    layers: tuple[Layer, ...]
    loss: str


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def _take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise DlibFormatError(f"dlib network ends early at byte {self.pos} (wanted {count} more)")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def peek(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("dlib network ends early")
        return self.data[self.pos]

    def int(self) -> int:
        """dlib's packed integer: a control byte (byte count, 0x80 for negative), then little-endian bytes."""
        control = self._take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer control byte {control:#x} at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little") if size else 0
        return -value if control & 0x80 else value

    def float(self) -> float:
        """dlib's portable float: a packed mantissa and a packed base-2 exponent."""
        mantissa = self.int()
        exponent = self.int()
        return float(mantissa) * 2.0**exponent

    def bool(self) -> bool:
        byte = self._take(1)
        if byte not in (b"0", b"1"):
            raise DlibFormatError(f"bad boolean {byte!r} at byte {self.pos - 1}")
        return byte == b"1"

    def string(self) -> str:
        return self._take(self.int()).decode("ascii", errors="replace")

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} at byte {self.pos}, expected 2")
        dims = [self.int() for _ in range(4)]
        count = int(np.prod(dims))
        values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(dims)

    def alias_tensor(self) -> tuple[int, ...]:
        version = self.int()
        if version != 1:
            raise DlibFormatError(f"alias tensor version {version} at byte {self.pos}, expected 1")
        return tuple(self.int() for _ in range(4))


def _read_layer(reader: _Reader, version: str) -> Layer:
    """The details of one layer whose version string was just read."""
    if version in ("con_4", "con_5", "con_6"):
        params = reader.tensor().ravel()
        filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.int() for _ in range(7))
        weights_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            reader.float()
        use_bias = True
        if version in ("con_5", "con_6"):
            use_bias = reader.bool()
        if version == "con_6":
            reader.bool()  # use_relu (fused activation, off in inference of this network)
        weight_count = int(np.prod(weights_shape))
        weights = params[:weight_count].reshape(weights_shape)
        bias = params[weight_count : weight_count + int(np.prod(bias_shape))] if use_bias else np.zeros(filters)
        if weights.shape[0] != filters or weights.shape[2:] != (rows, cols):
            raise DlibFormatError(f"con filters {weights.shape} do not match {filters}x{rows}x{cols}")
        return Layer(
            "con",
            {"weight": weights.astype(np.float32), "bias": np.asarray(bias, np.float32).ravel()},
            (filters, rows, cols, stride_y, stride_x, pad_y, pad_x),
        )
    if version in ("affine_", "affine_2"):
        params = reader.tensor().ravel()
        gamma_shape, _beta_shape = reader.alias_tensor(), reader.alias_tensor()
        reader.int()  # mode: per channel (convolutional) or per element
        if version == "affine_2":
            reader.bool()  # disabled
        channels = int(np.prod(gamma_shape))
        return Layer("affine", {"scale": params[:channels].copy(), "shift": params[channels : 2 * channels].copy()})
    if version == "bn_con2":
        params = reader.tensor().ravel()
        gamma_shape, _beta_shape = reader.alias_tensor(), reader.alias_tensor()
        reader.tensor()  # means of the last training batch
        reader.tensor()  # their inverse standard deviations
        running_means = reader.tensor().ravel()
        running_variances = reader.tensor().ravel()
        reader.int()  # num_updates
        reader.int()  # running_stats_window_size
        for _ in range(4):
            reader.float()
        eps = reader.float()
        channels = int(np.prod(gamma_shape))
        gamma, beta = params[:channels], params[channels : 2 * channels]
        scale = gamma / np.sqrt(running_variances + eps)
        shift = beta - running_means * scale
        return Layer("affine", {"scale": scale.astype(np.float32), "shift": shift.astype(np.float32)})
    if version == "relu_":
        return Layer("relu")
    if version == "relu_2":
        reader.bool()  # disabled
        return Layer("relu")
    if version in ("max_pool_", "max_pool_2", "avg_pool_", "avg_pool_2"):
        rows, cols, stride_y, stride_x = (reader.int() for _ in range(4))
        pad_y, pad_x = (reader.int(), reader.int()) if version.endswith("_2") else (0, 0)
        kind = "max_pool" if version.startswith("max") else "avg_pool"
        return Layer(kind, {}, (rows, cols, stride_y, stride_x, pad_y, pad_x))
    if version == "add_prev_":
        return Layer("add_prev")
    if version in ("fc_", "fc_2", "fc_3"):
        outputs = reader.int()
        inputs = reader.int()
        params = reader.tensor().ravel()
        weights_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
        bias_mode = reader.int()
        for _ in range(4):
            reader.float()
        if version == "fc_3":
            reader.bool()
        weights = params[: int(np.prod(weights_shape))].reshape(inputs, outputs)
        if weights.shape != (inputs, outputs):
            raise DlibFormatError(f"fc weights {weights.shape}, expected {(inputs, outputs)}")
        bias = params[weights.size : weights.size + outputs] if bias_mode == 0 else np.zeros(outputs)
        return Layer("fc", {"weight": weights.astype(np.float32), "bias": np.asarray(bias, np.float32)}, (outputs,))
    raise DlibFormatError(f"unsupported dlib layer {version!r}")


def _skip_trailer(reader: _Reader) -> None:
    """Skip the bookkeeping dlib's add_layer stores after a layer (flags, empty gradient tensors)."""
    while reader.peek() in (0x30, 0x31):
        reader.bool()
    for _ in range(3):
        reader.tensor()


def parse_network(data: bytes) -> DlibNetwork:
    """The layers of a dlib metric network file (``loss_metric<fc_no_bias<...>>``), input side first."""
    reader = _Reader(data)
    if reader.int() != 1:
        raise DlibFormatError("not a dlib network file: it does not start with a loss layer (version 1)")
    loss = reader.string()
    if not loss.startswith("loss_metric"):
        raise DlibFormatError(f"loss {loss!r} is not dlib's metric loss")
    reader.float()  # margin
    reader.float()  # distance threshold used in training
    while True:  # versions of the nested layer wrappers, outermost first, down to the input
        version = reader.int()
        if version == 3:
            break
        if version not in (1, 2):
            raise DlibFormatError(f"unexpected layer wrapper version {version} at byte {reader.pos}")
    if reader.string() != "input_rgb_image_sized":
        raise DlibFormatError("the network's input is not input_rgb_image_sized")
    mean_rgb = (reader.float(), reader.float(), reader.float())
    rows, cols = reader.int(), reader.int()
    if rows != cols:
        raise DlibFormatError(f"input {rows}x{cols} is not square")
    layers = [_read_layer(reader, reader.string())]
    _skip_trailer(reader)
    reader.int()  # sample expansion factor of the input layer's wrapper
    while reader.pos < len(reader.data):
        layers.append(_read_layer(reader, reader.string()))
        _skip_trailer(reader)
    return DlibNetwork(rows, mean_rgb, tuple(layers), loss)


class _GraphBuilder:
    """Emits ONNX nodes for the parsed layers, tracking each tensor's static shape [C, H, W]."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attributes) -> str:
        output = self.name(stem)
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def conv(self, x: str, shape: tuple[int, int, int], layer: Layer) -> tuple[str, tuple[int, int, int]]:
        filters, rows, cols, stride_y, stride_x, pad_y, pad_x = layer.shape
        weight = self.constant("conv_w", layer.params["weight"])
        bias = self.constant("conv_b", layer.params["bias"])
        out = self.node(
            "Conv",
            [x, weight, bias],
            "conv",
            kernel_shape=[rows, cols],
            strides=[stride_y, stride_x],
            pads=[pad_y, pad_x, pad_y, pad_x],
        )
        _, height, width = shape
        return out, (filters, (height + 2 * pad_y - rows) // stride_y + 1, (width + 2 * pad_x - cols) // stride_x + 1)

    def affine(self, x: str, layer: Layer) -> str:
        scale = self.constant("affine_scale", layer.params["scale"].reshape(-1, 1, 1))
        shift = self.constant("affine_shift", layer.params["shift"].reshape(-1, 1, 1))
        return self.node("Add", [self.node("Mul", [x, scale], "affine_mul"), shift], "affine")

    def pool(self, x: str, shape: tuple[int, int, int], layer: Layer) -> tuple[str, tuple[int, int, int]]:
        rows, cols, stride_y, stride_x, pad_y, pad_x = layer.shape
        channels, height, width = shape
        if rows == 0 and cols == 0:  # dlib's avg_pool_everything
            op = "GlobalAveragePool" if layer.kind == "avg_pool" else "GlobalMaxPool"
            return self.node(op, [x], layer.kind), (channels, 1, 1)
        op = "MaxPool" if layer.kind == "max_pool" else "AveragePool"
        out = self.node(op, [x], layer.kind, kernel_shape=[rows, cols], strides=[stride_y, stride_x],
                        pads=[pad_y, pad_x, pad_y, pad_x])  # fmt: skip
        return out, (channels, (height + 2 * pad_y - rows) // stride_y + 1, (width + 2 * pad_x - cols) // stride_x + 1)

    def pad_to(self, x: str, shape: tuple[int, int, int], target: tuple[int, int, int]) -> str:
        """Zero-pad [N, C, H, W] at the end of C, H and W (dlib's add_prev sums tensors of unequal size so)."""
        if shape == target:
            return x
        ends = [0, *(t - s for s, t in zip(shape, target, strict=True))]
        pads = self.constant("pads", np.array([0, 0, 0, 0, *ends], dtype=np.int64))
        return self.node("Pad", [x, pads], "pad")


def network_to_onnx(network: DlibNetwork, doc: str = "") -> onnx.ModelProto:
    """The network as an ONNX graph: ``input`` [N, 3, S, S] (already normalised) to ``embedding`` [N, D]."""
    layers = network.layers
    graph = _GraphBuilder()
    x, shape = "input", (3, network.input_size, network.input_size)
    i = 0
    while i < len(layers):
        kinds = [layer.kind for layer in layers[i : i + 8]]
        if kinds[:5] == ["con", "affine", "relu", "con", "affine"] and "add_prev" in kinds[5:7]:
            # A residual block: conv-affine-relu-conv-affine, the block's input (average-pooled
            # when the block strides) added, then relu.
            down = kinds[5] == "avg_pool"
            y, y_shape = graph.conv(x, shape, layers[i])
            y = graph.node("Relu", [graph.affine(y, layers[i + 1])], "relu")
            y, y_shape = graph.conv(y, y_shape, layers[i + 3])
            y = graph.affine(y, layers[i + 4])
            skip, skip_shape = graph.pool(x, shape, layers[i + 5]) if down else (x, shape)
            end = i + (6 if down else 5)
            if layers[end].kind != "add_prev" or layers[end + 1].kind != "relu":
                raise DlibFormatError(f"layer {end}: a residual block must end in add_prev and relu")
            target = tuple(max(a, b) for a, b in zip(y_shape, skip_shape, strict=True))
            total = graph.node("Add", [graph.pad_to(y, y_shape, target), graph.pad_to(skip, skip_shape, target)], "add")
            x, shape = graph.node("Relu", [total], "relu"), target
            i = end + 2
            continue
        layer = layers[i]
        if layer.kind == "con":
            x, shape = graph.conv(x, shape, layer)
        elif layer.kind == "affine":
            x = graph.affine(x, layer)
        elif layer.kind == "relu":
            x = graph.node("Relu", [x], "relu")
        elif layer.kind in ("max_pool", "avg_pool"):
            x, shape = graph.pool(x, shape, layer)
        elif layer.kind == "fc":
            flat = graph.node("Flatten", [x], "flatten", axis=1)
            product = graph.node("MatMul", [flat, graph.constant("fc_w", layer.params["weight"])], "fc")
            x = graph.node("Add", [product, graph.constant("fc_b", layer.params["bias"])], "fc_bias")
            shape = (layer.shape[0],)
        else:
            raise DlibFormatError(f"layer {i} ({layer.kind}) outside a residual block")
        i += 1
    if len(shape) != 1:
        raise DlibFormatError(f"the network ends in a {shape} tensor, not a vector")
    graph.nodes.append(helper.make_node("Identity", [x], ["embedding"], name="embedding"))
    size = network.input_size
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "dlib_metric_network",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
            [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", shape[0]])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="face_perception",
        doc_string=doc,
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def dlib_dat_to_onnx(data: bytes, doc: str = "") -> bytes:
    """ONNX bytes of a dlib metric network file's contents."""
    return network_to_onnx(parse_network(data), doc).SerializeToString()
