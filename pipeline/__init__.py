"""Builds and runs the mmkg Beam pipeline."""
