"""Command-line tools: one module per command, each a ``run(args) -> exit code``."""
