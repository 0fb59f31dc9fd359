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
