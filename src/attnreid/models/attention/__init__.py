"""Attention parts: each paper's attention mechanism, for its own network and for models/compare.py."""
