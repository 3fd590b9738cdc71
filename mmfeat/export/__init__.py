"""Exporters from the store to formats other tools read directly."""
