"""Extraction steps that know nothing about Beam: read+validate, and per-bucket work."""
