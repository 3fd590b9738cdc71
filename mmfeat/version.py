"""The package version, kept in one place so setup.py and lineage records agree."""
__version__ = "0.2.0"
