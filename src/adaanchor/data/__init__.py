"""Datasets, readers and transforms."""
