"""Metrics: single-keypoint error/score by visibility, and the official AP/PCKh/NME through maintained tools."""
