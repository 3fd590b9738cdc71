"""Sources list shards of input and read each into Records and ErrorRows."""
from mmfeat.registry import Registry

SOURCES = Registry("source", {"manifest": "mmfeat.sources.manifest", "webdataset": "mmfeat.sources.webdataset",
                              "folder": "mmfeat.sources.folder"}, group="mmfeat.sources")

__all__ = ["SOURCES"]
