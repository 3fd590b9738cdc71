"""Walk the members of a tar stream header by header, refusing to guess about damage.

``tarfile`` stops silently at a truncated or corrupt header after the first
one, and follows no policy for links. This walker reads each 512-byte header
itself (parsed by ``tarfile.TarInfo.frombuf``, which checks the checksum),
handles GNU long names and pax headers, and raises ``TarDamage`` with the byte
offset for anything that is not a clean end of archive: a cut inside a header
or inside member data, a bad header, or a missing end-of-archive marker. Member
data is only read on request, and skipped by seeking (or by reading in small
chunks from a compressed stream), so a huge member costs no memory.
"""
import tarfile
from typing import Iterator, NamedTuple

BLOCK = 512
_ZERO = bytes(BLOCK)
_MAX_META = 1024 * 1024  # long names and pax headers larger than this are damage, not data
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_META_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
               tarfile.SOLARIS_XHDTYPE)


class TarDamage(Exception):
    """The archive is truncated or corrupt at byte ``offset`` (of the decompressed stream)."""

    def __init__(self, detail: str, offset: int):
        super().__init__(detail)
        self.detail, self.offset = detail, offset


class Member(NamedTuple):
    """One member: ``kind`` is file, dir, symlink, hardlink or other (devices, FIFOs)."""

    name: str
    kind: str
    size: int
    offset: int  # of its header (after any long-name/pax headers: the header that names its type)
    linkname: str = ""


def _kind(info) -> str:
    if info.type in _FILE_TYPES:
        return "file"
    return {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}.get(info.type, "other")


def _pax(data: bytes) -> dict:
    """The records of a pax header (``"<len> key=value\\n"``...), as text."""
    fields, pos = {}, 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space])
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        fields[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return fields


class TarWalker:
    """Iterates ``Member``s of binary stream ``f``; ``read(member)`` reads the current member's data."""

    def __init__(self, f, *, seekable: bool):
        self.f, self.seekable, self.pos = f, seekable, 0

    def _read(self, n: int) -> bytes:
        parts, want = [], n
        while want:
            chunk = self.f.read(min(want, 1024 * 1024))
            if not chunk:
                break
            parts.append(chunk)
            want -= len(chunk)
        data = b"".join(parts)
        self.pos += len(data)
        return data

    def _skip_to(self, target: int) -> None:
        if target <= self.pos:
            return
        if self.seekable:
            self.f.seek(target)
            self.pos = target
            return
        while self.pos < target:
            if not self._read(min(target - self.pos, 1024 * 1024)):
                raise TarDamage("cut inside member data", self.pos)

    def read(self, member: Member) -> bytes:
        """The data of the member just yielded (call before advancing)."""
        start = self.pos
        data = self._read(member.size)
        if len(data) < member.size:
            raise TarDamage(f"cut inside the data of {member.name!r} ({len(data)} of {member.size} bytes)", start)
        return data

    def __iter__(self) -> Iterator[Member]:
        long_name, pax = None, {}
        while True:
            offset = self.pos
            block = self._read(BLOCK)
            if not block:
                raise TarDamage("no end-of-archive marker (cut at a member boundary?)", offset)
            if len(block) < BLOCK:
                raise TarDamage("cut inside a member header", offset)
            if block == _ZERO:
                return
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise TarDamage(f"bad member header ({exc})", offset) from None
            try:
                size = int(pax.get("size", info.size)) if info.type not in _META_TYPES else info.size
            except ValueError:
                raise TarDamage(f"bad size {pax.get('size')!r} in a pax header", offset) from None
            end = self.pos + -(-size // BLOCK) * BLOCK
            if info.type in _META_TYPES:
                if size > _MAX_META:
                    raise TarDamage(f"extended header of {size} bytes", offset)
                data = self._read(size)
                if len(data) < size:
                    raise TarDamage("cut inside an extended header", offset)
                if info.type == tarfile.GNUTYPE_LONGNAME:
                    long_name = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
                elif info.type in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
                    try:
                        pax = _pax(data)
                    except ValueError:
                        raise TarDamage("bad pax header", offset) from None
                self._skip_to(end)
                continue
            name = pax.get("path") or long_name or info.name
            yield Member(name, _kind(info), size, offset, pax.get("linkpath") or info.linkname)
            long_name, pax = None, {}
            self._skip_to(end)
