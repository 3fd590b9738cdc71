"""Turn a failed Beam job back into one mmfeat error line.

Runners wrap an exception raised in a DoFn in their own (a RuntimeError whose
message carries the worker's whole traceback), so an mmfeat job-level error
raised on a worker would reach the user as hundreds of lines. The original
class name and message are still in that text: find them and raise the mmfeat
error again, so the CLI prints one line and exits 1.
"""
import errno
import re

from mmfeat import errors as mmfeat_errors

_MMFEAT = {name for name, obj in vars(mmfeat_errors).items()
           if isinstance(obj, type) and issubclass(obj, mmfeat_errors.MmfeatError)}
_LINE = re.compile(r"(?:mmfeat\.errors\.)?(" + "|".join(sorted(_MMFEAT)) + r"): (.+)")


def job_error(exc: BaseException, store_root) -> BaseException:
    """The exception to raise for a failed pipeline: an mmfeat error when one caused it, else ``exc``."""
    if isinstance(exc, mmfeat_errors.MmfeatError):
        return exc
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "No space left on device" in text:
        return mmfeat_errors.StoreError(
            f"{store_root}: no space left on device while writing the feature set. Everything committed before "
            f"is intact (a part becomes visible only with its commit). Free space and rerun: the run resumes "
            f"where it stopped.")
    found = [m for line in text.splitlines() if (m := _LINE.search(line.strip()))]
    if not found:
        return exc
    name, message = found[-1].groups()
    return getattr(mmfeat_errors, name)(message)
