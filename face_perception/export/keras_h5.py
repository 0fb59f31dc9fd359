"""Convert a Keras 2 HDF5 convolutional classifier (the mini-Xception family) to ONNX.

Reads the model's JSON config and weights with h5py only (no TensorFlow) and emits an
ONNX graph with an NCHW input. Supported layers: InputLayer, Conv2D, SeparableConv2D,
BatchNormalization, Activation (relu, softmax, linear), MaxPooling2D, Add,
GlobalAveragePooling2D. Anything else raises UnsupportedLayerError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from face_perception.core.errors import ModelError

OPSET = 13
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


class UnsupportedLayerError(ModelError):
    """The HDF5 model uses a layer this converter does not translate."""


def read_keras_h5(path: str | Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """The model's layer configs (topological order) and weights by layer and short name."""
    with h5py.File(path, "r") as file:
        config = json.loads(_as_text(file.attrs["model_config"]))
        layers = config["config"]["layers"]
        weights: dict[str, dict[str, np.ndarray]] = {}
        group = file.get("model_weights", file)
        for layer in layers:
            name = layer["config"]["name"]
            if name not in group:
                continue
            tensors: dict[str, np.ndarray] = {}
            group[name].visititems(
                lambda key, item, out=tensors: (
                    out.__setitem__(key.rsplit("/", 1)[-1].split(":")[0], item[()])
                    if isinstance(item, h5py.Dataset)
                    else None
                )
            )
            weights[name] = tensors
    return layers, weights


def keras_h5_to_onnx(path: str | Path, doc: str = "") -> onnx.ModelProto:
    """Translate the HDF5 model at ``path`` into an ONNX model with input [N, C, H, W]."""
    layers, weights = read_keras_h5(path)
    builder = _GraphBuilder(weights)
    for layer in layers:
        builder.add(layer)
    builder.nodes.append(helper.make_node("Identity", [builder.outputs[layers[-1]["config"]["name"]]], [OUTPUT_NAME]))
    graph = helper.make_graph(
        builder.nodes,
        "keras_h5_classifier",
        [builder.graph_input],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", builder.classes])],
        builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], doc_string=doc)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


class _GraphBuilder:
    def __init__(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.outputs: dict[str, str] = {}  # keras layer name -> onnx tensor name
        self.graph_input: onnx.ValueInfoProto | None = None
        self.classes = 0
        self.channels = 0

    def add(self, layer: dict[str, Any]) -> None:
        kind, config = layer["class_name"], layer["config"]
        name = config["name"]
        inputs = [self.outputs[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise UnsupportedLayerError(f"layer {name!r} of type {kind} is not supported")
        self.outputs[name] = handler(name, config, inputs)

    def _constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def _node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def _activation(self, name: str, tensor: str, activation: str) -> str:
        if activation == "linear":
            return tensor
        if activation == "relu":
            return self._node("Relu", [tensor], f"{name}/relu")
        if activation == "softmax":
            self.classes = self.channels
            return self._node("Softmax", [tensor], f"{name}/softmax", axis=-1)
        raise UnsupportedLayerError(f"activation {activation!r} of layer {name!r} is not supported")

    @staticmethod
    def _padding(config: dict[str, Any]) -> dict[str, Any]:
        if config["padding"] == "same":
            return {"auto_pad": "SAME_UPPER"}
        if config["padding"] == "valid":
            return {"auto_pad": "VALID"}
        raise UnsupportedLayerError(f"padding {config['padding']!r} is not supported")

    def _InputLayer(self, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        _, height, width, channels = config["batch_input_shape"]
        self.channels = channels
        self.graph_input = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", channels, height, width])
        return INPUT_NAME

    def _Conv2D(self, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        tensors = self.weights[name]
        kernel = tensors["kernel"].transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
        args = [inputs[0], self._constant(f"{name}/W", kernel)]
        if config.get("use_bias", True):
            args.append(self._constant(f"{name}/B", tensors["bias"]))
        out = self._node(
            "Conv",
            args,
            f"{name}/conv",
            kernel_shape=list(config["kernel_size"]),
            strides=list(config["strides"]),
            **self._padding(config),
        )
        self.channels = kernel.shape[0]
        return self._activation(name, out, config.get("activation", "linear"))

    def _SeparableConv2D(self, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        tensors = self.weights[name]
        depthwise = tensors["depthwise_kernel"]  # (kh, kw, in, multiplier)
        kh, kw, channels, multiplier = depthwise.shape
        depthwise = depthwise.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)
        pointwise = tensors["pointwise_kernel"].transpose(3, 2, 0, 1)
        mid = self._node(
            "Conv",
            [inputs[0], self._constant(f"{name}/depthwise", depthwise)],
            f"{name}/depthwise_conv",
            kernel_shape=[kh, kw],
            strides=list(config["strides"]),
            group=channels,
            **self._padding(config),
        )
        args = [mid, self._constant(f"{name}/pointwise", pointwise)]
        if config.get("use_bias", True):
            args.append(self._constant(f"{name}/B", tensors["bias"]))
        out = self._node("Conv", args, f"{name}/pointwise_conv", kernel_shape=[1, 1])
        self.channels = pointwise.shape[0]
        return self._activation(name, out, config.get("activation", "linear"))

    def _BatchNormalization(self, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        tensors = self.weights[name]
        channels = tensors["moving_mean"].shape[0]
        gamma = tensors.get("gamma", np.ones(channels, np.float32))
        beta = tensors.get("beta", np.zeros(channels, np.float32))
        args = [
            inputs[0],
            self._constant(f"{name}/gamma", gamma),
            self._constant(f"{name}/beta", beta),
            self._constant(f"{name}/mean", tensors["moving_mean"]),
            self._constant(f"{name}/var", tensors["moving_variance"]),
        ]
        return self._node("BatchNormalization", args, f"{name}/bn", epsilon=float(config["epsilon"]))

    def _Activation(self, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        return self._activation(name, inputs[0], config["activation"])

    def _MaxPooling2D(self, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        return self._node(
            "MaxPool",
            inputs,
            f"{name}/maxpool",
            kernel_shape=list(config["pool_size"]),
            strides=list(config["strides"]),
            **self._padding(config),
        )

    def _Add(self, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        out = inputs[0]
        for index, other in enumerate(inputs[1:]):
            out = self._node("Add", [out, other], f"{name}/add{index}")
        return out

    def _GlobalAveragePooling2D(self, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        pooled = self._node("GlobalAveragePool", inputs, f"{name}/gap")
        return self._node("Flatten", [pooled], f"{name}/flatten", axis=1)


def _as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
