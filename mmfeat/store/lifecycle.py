"""Where a part lives during its life: staged (hidden), published, trashed, vacuumed.

    data/bucket=NNNNN/.NAME.staged      written by ``write_part``; no commit names it yet, or its
                                        commit has not published it yet
    data/bucket=NNNNN/NAME              published: renamed by the commit that added it
    _trash/data/bucket=NNNNN/NAME       replaced by a later commit; readers of an older log state
                                        still find it here until ``vacuum`` deletes it by age

Each step is one rename inside the feature set's directory (on an object
store, a server-side copy and then a delete: ``mmfeat.store.objects``). Directory readers
(pandas, duckdb) see a part only while it is published, and it is published
only after the log commit that adds it, so they see committed rows only. An
mmfeat reader looks for a committed part in all three places, so a commit that
replaces or publishes a file under a reader never makes the reader fail.
"""
import os
from pathlib import Path

from mmfeat.store.files import move_aside, rename
from mmfeat.store.objects import ObjectPath, as_path

TRASH_DIR = "_trash"
STAGED_SUFFIX = ".staged"


def staged_path(final: Path) -> Path:
    """The hidden name a part carries until its commit publishes it."""
    return final.with_name(f".{final.name}{STAGED_SUFFIX}")


def final_of_staged(staged: Path) -> Path | None:
    """The published name of a staged file, or None if ``staged`` is no staged name."""
    name = staged.name
    if not (name.startswith(".") and name.endswith(STAGED_SUFFIX)) or name.startswith(".tmp-"):
        return None
    return staged.with_name(name[1:-len(STAGED_SUFFIX)])


def trash_path(set_dir: Path, rel: str) -> Path:
    """Where a replaced part waits for vacuum."""
    return as_path(set_dir) / TRASH_DIR / rel


def publish(set_dir: Path, rel: str) -> None:
    """Give a committed part its visible name (a no-op when it has it already)."""
    final = as_path(set_dir) / rel
    try:
        rename(staged_path(final), final)
    except FileNotFoundError:
        pass  # published already, by its writer or by a reader that rolled the commit forward


def trash(set_dir: Path, rel: str) -> bool:
    """Move a part a commit removed out of the visible directory, stamping the time of removal.

    The mtime is reset first so that vacuum's minimum age counts from the
    removal, not from when the part was written. The staged name is tried too
    (a part whose commit never published it), and the visible one once more in
    case a reader published it meanwhile. False if the part was already gone.
    """
    final = as_path(set_dir) / rel
    target = trash_path(set_dir, rel)
    for src in (final, staged_path(final), final):
        try:
            _stamp_now(src)
        except FileNotFoundError:
            continue
        if move_aside(src, target):
            return True
    return False


def read_committed(set_dir: Path, rel: str) -> tuple[Path, bytes] | None:
    """The bytes of committed part ``rel`` and where they were read, looking in the places ``locate``
    looks, in the same order, but with one read per place (no existence check first: on an object store
    that is a request saved per part). A staged part is published after it is read. None if it is nowhere."""
    final = as_path(set_dir) / rel
    for _ in range(2):  # a concurrent publish or trash may move it between two looks
        for path in (final, staged_path(final), trash_path(set_dir, rel)):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if path.name != final.name:  # staged: finish its commit, if allowed to
                try:
                    publish(set_dir, rel)
                except PermissionError:
                    pass  # a read-only reader still reads it; a writer publishes it later
            return path, data
    return None


def locate(set_dir: Path, rel: str, *, roll_forward: bool = True) -> Path | None:
    """The file holding committed part ``rel`` now: published, staged (published here first, if
    ``roll_forward``, completing its commit) or trashed by a later commit; None if it is nowhere."""
    final = as_path(set_dir) / rel
    for _ in range(2):  # a concurrent publish or trash may move it between two looks
        if final.exists():
            return final
        staged = staged_path(final)
        if staged.exists():
            if not roll_forward:
                return staged
            try:
                rename(staged, final)
                return final
            except FileNotFoundError:
                continue
            except PermissionError:
                return staged  # a read-only reader still reads it; a writer publishes it later
        trashed = trash_path(set_dir, rel)
        if trashed.exists():
            return trashed
    return None


def _stamp_now(path: Path) -> None:
    """Set a file's mtime to now; FileNotFoundError if it is gone. An object's copy is stamped by the store
    when it is written, so only its presence is checked."""
    if isinstance(path, ObjectPath):
        if not path.exists():
            raise FileNotFoundError(str(path))
        return
    os.utime(path)
