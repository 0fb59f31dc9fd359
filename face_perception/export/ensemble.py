"""Averaging classifiers: several ONNX models with the same input and output, as one ONNX model."""

from __future__ import annotations

import onnx
from onnx import compose, helper


def average_models(models: list[bytes], input_name: str = "input", output_name: str = "probabilities") -> bytes:
    """One ONNX model whose output is the mean of the models' outputs (all fed the same input)."""
    if len(models) == 1:
        return models[0]
    loaded = [compose.add_prefix(onnx.load_from_string(m), f"m{i}_") for i, m in enumerate(models)]
    first = loaded[0].graph
    nodes, initializers = [], []
    for index, model in enumerate(loaded):
        graph = model.graph
        nodes.append(helper.make_node("Identity", [input_name], [f"m{index}_{input_name}"]))
        nodes.extend(graph.node)
        initializers.extend(graph.initializer)
    nodes.append(helper.make_node("Mean", [f"m{i}_{output_name}" for i in range(len(loaded))], [output_name]))
    graph_input = helper.make_tensor_value_info(input_name, first.input[0].type.tensor_type.elem_type, None)
    graph_input.type.CopyFrom(first.input[0].type)
    graph_output = helper.make_tensor_value_info(output_name, first.output[0].type.tensor_type.elem_type, None)
    graph_output.type.CopyFrom(first.output[0].type)
    graph = helper.make_graph(nodes, "average", [graph_input], [graph_output], initializers)
    merged = helper.make_model(graph, opset_imports=loaded[0].opset_import)
    merged.ir_version = loaded[0].ir_version
    onnx.checker.check_model(merged)
    return merged.SerializeToString()


def flip_average_model(model: bytes) -> bytes:
    """One ONNX model whose output is the mean of the model's outputs on the input and its mirror image.

    The input [N, C, H, W] and its left-right flip go through the network as one batch of 2N; the
    two halves of the output are averaged, so a caller still makes one call per batch.
    """
    inner = compose.add_prefix(onnx.load_from_string(model), "net_")
    graph = inner.graph
    input_name, output_name = graph.input[0].name[len("net_") :], graph.output[0].name[len("net_") :]
    classes = graph.output[0].type.tensor_type.shape.dim[1].dim_value
    if classes <= 0:
        raise ValueError("the model's output needs a fixed number of classes [N, classes]")
    opset = next(o.version for o in inner.opset_import if o.domain in ("", "ai.onnx"))
    constants = [
        helper.make_tensor("flip_starts", onnx.TensorProto.INT64, [1], [-1]),
        helper.make_tensor("flip_ends", onnx.TensorProto.INT64, [1], [-(2**63)]),
        helper.make_tensor("flip_axes", onnx.TensorProto.INT64, [1], [3]),
        helper.make_tensor("flip_steps", onnx.TensorProto.INT64, [1], [-1]),
        helper.make_tensor("halves_shape", onnx.TensorProto.INT64, [3], [2, -1, classes]),
    ]
    nodes = [
        helper.make_node("Slice", [input_name, "flip_starts", "flip_ends", "flip_axes", "flip_steps"], ["flipped"]),
        helper.make_node("Concat", [input_name, "flipped"], [graph.input[0].name], axis=0),
        *graph.node,
        helper.make_node("Reshape", [graph.output[0].name, "halves_shape"], ["halves"]),
    ]
    if opset >= 18:
        constants.append(helper.make_tensor("mean_axes", onnx.TensorProto.INT64, [1], [0]))
        nodes.append(helper.make_node("ReduceMean", ["halves", "mean_axes"], [output_name], keepdims=0))
    else:
        nodes.append(helper.make_node("ReduceMean", ["halves"], [output_name], axes=[0], keepdims=0))
    graph_input = onnx.ValueInfoProto()
    graph_input.CopyFrom(graph.input[0])
    graph_input.name = input_name
    graph_output = onnx.ValueInfoProto()
    graph_output.CopyFrom(graph.output[0])
    graph_output.name = output_name
    wrapped = helper.make_graph(nodes, "flip_average", [graph_input], [graph_output], [*graph.initializer, *constants])
    result = helper.make_model(wrapped, opset_imports=inner.opset_import)
    result.ir_version = inner.ir_version
    onnx.checker.check_model(result)
    return result.SerializeToString()
