"""Job-level exceptions. Sample-level failures are data (see ``mmfeat.records.ErrorRow``)."""


class MmfeatError(Exception):
    """Base class for every job-level failure mmfeat raises on purpose."""


class UsageError(MmfeatError):
    """Bad command-line usage (an unknown option, a runner that does not exist); the CLI exits 2."""


class SpecError(MmfeatError, ValueError):
    """A feature-set definition is invalid; the message names the file and the field."""


class StoreError(MmfeatError):
    """The feature store is missing, inconsistent or used in a way it does not support."""


class ChecksumError(StoreError):
    """A committed file no longer matches the checksum recorded when it was written."""


class CommitConflictError(StoreError):
    """Another writer committed to the same bucket first; rerunning picks up its rows."""


class FingerprintMismatchError(StoreError):
    """A feature set exists under this name but was computed with a different spec."""


class ModelLoadError(MmfeatError):
    """The encoder's model could not be loaded; the message names the model, the spec and the fix."""


class MissingDependencyError(MmfeatError, ImportError):
    """An optional dependency is not installed; the message carries the pip line."""


class InputError(MmfeatError):
    """One input cannot be read or decoded. Caught per sample and stored as an error row."""

    def __init__(self, reason: str, stage: str = "decode"):
        super().__init__(reason)
        self.reason, self.stage = reason, stage
