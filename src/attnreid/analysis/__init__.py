"""Measurements beyond the papers' tables, computed from trained models."""
