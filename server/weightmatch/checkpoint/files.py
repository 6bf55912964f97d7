"""File access for the readers, in one place so a test can count the bytes they read."""

from __future__ import annotations

from typing import BinaryIO

# The most any one pickle may take once decompressed. Real data.pkl files are about
# 100 bytes per tensor (and the opcode budget stops near 18,000 tensors); 16 MiB bounds what a zip bomb or a lying length can cost.
MAX_PICKLE_BYTES = 16 * 1024 * 1024


def open_binary(path: str) -> BinaryIO:
    # Unbuffered: a buffered reader would read ahead 8 KiB at each seek, and the point
    # of these readers is to touch as little of a multi-GB file as possible.
    return open(path, "rb", buffering=0)
