"""Model training (PyTorch, the ``train`` extra). Never imported by the node or the core library."""
