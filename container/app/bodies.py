"""Request bodies: read within the limit, large ones spooled to a file and parsed from a map.

A 200 MB body read into memory cost the process 400-600 MB that it never gave back: the
chunks, their join, and the parse each held a copy, and glibc kept the freed heap. Past
`spool_bytes` the body goes to an unlinked temporary file instead and is parsed from a
read-only memory map (file pages the kernel can drop, unmapped when the request ends), and
the heap is trimmed after every large request.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import mmap
import os
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger("container.server")

Message = MutableMapping[str, Any]


class ClientGone(Exception):
    """The caller disconnected before its body arrived; there is no one to answer."""


class BodyTooLarge(Exception):
    """The body is over the limit; the message says by how much."""


class Body:
    """A request's body: `data` is bytes, or a memoryview of a spooled file's map."""

    def __init__(self, data: bytes | memoryview, spool: Any = None, mapped: Any = None) -> None:
        self.data = data
        self._spool = spool
        self._mapped = mapped

    @property
    def large(self) -> bool:
        return self._spool is not None

    def __len__(self) -> int:
        return len(self.data)

    def close(self) -> None:
        """Unmap and delete the spool; anything still viewing the map raises from here on."""
        if self._spool is None:
            return
        if isinstance(self.data, memoryview):
            self.data.release()
        if self._mapped is not None:
            try:
                self._mapped.close()
            except BufferError:  # a parse result still views it; the GC unmaps it later
                log.warning("spooled body still referenced; unmapped later")
        self._spool.close()
        self._spool = self._mapped = None
        self.data = b""


async def read_body(
    declared: str | None,
    receive: Callable[[], Awaitable[Message]],
    limit: int,
    spool_bytes: int,
) -> Body:
    """The whole body (ClientGone if the caller left; BodyTooLarge past `limit`)."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {declared} bytes exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    spool: Any = None
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"body exceeds {limit} bytes")
            if spool is None and size > spool_bytes:
                spool = tempfile.TemporaryFile(prefix="body-")  # noqa: SIM115 - Body.close ends it
                for held in chunks:
                    spool.write(held)
                chunks.clear()
            if spool is not None:
                spool.write(chunk)
            else:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    if spool is None:
        return Body(chunks[0] if len(chunks) == 1 else b"".join(chunks))
    spool.flush()
    if size == 0:
        spool.close()
        return Body(b"")
    mapped = mmap.mmap(spool.fileno(), size, access=mmap.ACCESS_READ)
    return Body(memoryview(mapped), spool, mapped)


_libc: Any = None


def trim_heap() -> None:
    """Give freed heap back to the OS (glibc keeps it otherwise); a no-op elsewhere."""
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name) if name and os.name == "posix" else False
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)
