"""Evaluation on labeled data: metrics, plots and markdown reports (the ``eval`` extra: matplotlib)."""
