"""The stdio transport, with pygls' message loop and a reader that bounds every frame.

pygls reads a frame's body with one `read(Content-Length)`: a header saying
`Content-Length: 99999999999` made that read raise MemoryError and the server exit. Here
a header line is read at most MAX_HEADER_LINE bytes at a time, and a body above
MAX_FRAME_BYTES is not read into memory: it is skipped up to the next `Content-Length:`
header (a well-behaved client's next frame), logged, and handed to pygls as an ignorable
`$/` notification; the server keeps serving the frames after it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter, run_async

MAX_FRAME_BYTES = 64 * 1024 * 1024  # a didOpen of an 8 MiB file, JSON-escaped, fits
MAX_HEADER_LINE = 64 * 1024
_CHUNK = 1024 * 1024
_HEADER = b"Content-Length:"
# What pygls gets in place of a dropped body: a notification in the `$/` space that no
# handler has, which the protocol says to ignore (pygls does, silently).
_DROPPED = b'{"jsonrpc": "2.0", "method": "$/weightmatch/droppedFrame", "params": {}}'

logger = logging.getLogger(__name__)


class BoundedReader:
    """pygls' AsyncReader over a binary stream (stdin), with every read bounded."""

    def __init__(self, stream: BinaryIO, executor: Any = None, max_frame: int = MAX_FRAME_BYTES) -> None:
        self.stream = stream
        self.executor = executor
        self.max_frame = max_frame
        self._pending = b""  # bytes read past a skipped frame: the start of the next header
        self.dropped = 0  # frames skipped for their size

    async def readline(self) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._readline)

    async def readexactly(self, n: int) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._readexactly, n)

    # -- blocking halves, in the executor --------------------------------------------
    def _readline(self) -> bytes:
        if self._pending:
            end = self._pending.find(b"\n")
            if end >= 0:
                line, self._pending = self._pending[:end + 1], self._pending[end + 1:]
                return line
            line, self._pending = self._pending, b""
            return line + self.stream.readline(MAX_HEADER_LINE)
        return self.stream.readline(MAX_HEADER_LINE)

    def _read(self, n: int) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:n], self._pending[n:]
            if len(data) < n:
                data += self.stream.read(n - len(data))
            return data
        return self.stream.read(n)

    def _readexactly(self, n: int) -> bytes:
        if n <= self.max_frame:
            return self._read(n)
        self.dropped += 1
        logger.error("Dropped a frame of Content-Length %d (the limit is %d bytes)", n, self.max_frame)
        print(f"weightmatch: dropped a frame of Content-Length {n} (limit {self.max_frame} bytes)",
              file=sys.stderr, flush=True)
        self._skip_to_next_header(n)
        return _DROPPED

    def _skip_to_next_header(self, n: int) -> None:
        """Discard the oversized body: up to `n` bytes, or up to the next frame's header."""
        left, tail = n, b""
        while left > 0:
            chunk = self._read(min(_CHUNK, left)) if self._pending else self.stream.readline(_CHUNK)
            if not chunk:
                return  # end of input: the loop ends as it would have
            left -= len(chunk)
            window = tail + chunk
            at = window.find(_HEADER)
            if at >= 0:
                self._pending = window[at:] + self._pending
                return
            tail = window[-(len(_HEADER) - 1):]


def serve_stdio(server: Any, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """What pygls' `start_io` does, with BoundedReader in place of its stdin reader."""
    server._stop_event = threading.Event()
    reader = BoundedReader(stdin or sys.stdin.buffer, server.thread_pool)
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    try:
        asyncio.run(run_async(stop_event=server._stop_event, reader=reader, protocol=server.protocol,
                              logger=logging.getLogger("pygls.server"), error_handler=server.report_server_error))
    except BrokenPipeError:
        logger.error("Connection to the client is lost; shutting down")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
