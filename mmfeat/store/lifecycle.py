"""Where a part lives during its life: staged (hidden), published, trashed, vacuumed.

    data/bucket=NNNNN/.NAME.staged      written by ``write_part``; no commit names it yet, or its
                                        commit has not published it yet
    data/bucket=NNNNN/NAME              published: renamed by the commit that added it
    _trash/data/bucket=NNNNN/NAME       replaced by a later commit; readers of an older log state
                                        still find it here until ``vacuum`` deletes it by age

Each step is one rename inside the feature set's directory. Directory readers
(pandas, duckdb) see a part only while it is published, and it is published
only after the log commit that adds it, so they see committed rows only. An
mmfeat reader looks for a committed part in all three places, so a commit that
replaces or publishes a file under a reader never makes the reader fail.
"""
import os
from pathlib import Path

from mmfeat.store.files import move_aside

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
    return Path(set_dir) / TRASH_DIR / rel


def publish(set_dir: Path, rel: str) -> None:
    """Give a committed part its visible name (a no-op when it has it already)."""
    final = Path(set_dir) / rel
    try:
        os.rename(staged_path(final), final)
    except FileNotFoundError:
        pass  # published already, by its writer or by a reader that rolled the commit forward


def trash(set_dir: Path, rel: str) -> bool:
    """Move a part a commit removed out of the visible directory, stamping the time of removal.

    The mtime is reset first so that vacuum's minimum age counts from the
    removal, not from when the part was written. The staged name is tried too
    (a part whose commit never published it), and the visible one once more in
    case a reader published it meanwhile. False if the part was already gone.
    """
    final = Path(set_dir) / rel
    target = trash_path(set_dir, rel)
    for src in (final, staged_path(final), final):
        try:
            os.utime(src)
        except FileNotFoundError:
            continue
        if move_aside(src, target):
            return True
    return False


def locate(set_dir: Path, rel: str, *, roll_forward: bool = True) -> Path | None:
    """The file holding committed part ``rel`` now: published, staged (published here first, if
    ``roll_forward``, completing its commit) or trashed by a later commit; None if it is nowhere."""
    final = Path(set_dir) / rel
    for _ in range(2):  # a concurrent publish or trash may move it between two looks
        if final.exists():
            return final
        staged = staged_path(final)
        if staged.exists():
            if not roll_forward:
                return staged
            try:
                os.rename(staged, final)
                return final
            except FileNotFoundError:
                continue
            except PermissionError:
                return staged  # a read-only reader still reads it; a writer publishes it later
        trashed = trash_path(set_dir, rel)
        if trashed.exists():
            return trashed
    return None
