"""Durable, append-only recording of OCPP-J frames to the landing zone (resources/README.md §2).

Layout: ``<landing>/ocpp/<YYYY-MM-DD>/<HH>/<writer>.jsonl``, one JSON object a line with ``received_at``,
``charge_point_id``, ``protocol``, ``direction`` (``in`` = charge point -> central system), ``message_id``
and ``raw`` (the frame text exactly as on the wire). A frame's line is written, flushed and fsynced before
its ``record`` call returns; the gateway records an outgoing frame before sending it and an incoming one
before handling it, so a crash can lose no frame that was acknowledged. Concurrent connections share
fsyncs (group commit, ``GroupCommitLog``).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from resources.table_storage import fsync_dir


def format_received_at(moment: datetime) -> str:
    """UTC timestamp with microseconds and a ``Z`` suffix, the landing zone's time format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def message_id_of(raw: str) -> str:
    """The OCPP-J message id (second array element) of a frame, or "" when the frame is not parseable.

    Malformed frames are still recorded: the ingest quarantines them with a reason code.
    """
    try:
        frame = json.loads(raw)
    except (ValueError, TypeError):
        return ""
    if isinstance(frame, list) and len(frame) >= 2 and isinstance(frame[1], str):
        return frame[1]
    return ""


def _ends_without_newline(path: Path) -> bool:
    size = path.stat().st_size
    if size == 0:
        return False
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) != b"\n"


@dataclass(frozen=True)
class PreparedFrame:
    """A frame stamped with its receive time, serialised, with the hourly file it belongs to."""

    record: dict[str, str]
    line: bytes
    path: Path


class FrameRecorder:
    """Appends frames to hourly jsonl files; ``write_batch`` fsyncs once per file before returning."""

    def __init__(self, landing_root: Path | str, writer: str, clock: Callable[[], datetime] | None = None):
        self.landing_root = Path(landing_root)
        self.writer = writer
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._open_path: Path | None = None
        self._open_file: IO[bytes] | None = None

    def prepare(self, charge_point_id: str, protocol: str, direction: str, raw: str) -> PreparedFrame:
        """Stamp a frame with the current time and serialise it (nothing is written yet)."""
        moment = self._clock().astimezone(UTC)
        record = {
            "received_at": format_received_at(moment),
            "charge_point_id": charge_point_id,
            "protocol": protocol,
            "direction": direction,
            "message_id": message_id_of(raw),
            "raw": raw,
        }
        path = (self.landing_root / "ocpp" / moment.strftime("%Y-%m-%d") / moment.strftime("%H")
                / f"{self.writer}.jsonl")
        return PreparedFrame(record, json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n", path)

    def _file_for(self, path: Path) -> IO[bytes]:
        if path != self._open_path:
            self._close_file()
            created = not path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._open_file = open(path, "ab")  # noqa: SIM115 - kept open for the hour on purpose
            self._open_path = path
            if not created and _ends_without_newline(path):
                # A crash tore the last line (it was never acknowledged): end it, so the torn text is
                # one malformed line for the ingest to quarantine and the next record stays intact.
                self._open_file.write(b"\n")
            if created:
                # Persist the new entries (file, hour and date folders) too, or a crash could lose them.
                for directory in (path.parent, path.parent.parent, path.parent.parent.parent):
                    fsync_dir(directory)
        assert self._open_file is not None
        return self._open_file

    def write_batch(self, frames: list[PreparedFrame]) -> None:
        """Append the frames in order; every file touched is flushed and fsynced before returning."""
        with self._lock:
            for index, frame in enumerate(frames):
                handle = self._file_for(frame.path)
                handle.write(frame.line)
                # Each file is synced before switching away from it (an hour boundary inside a batch).
                if index + 1 == len(frames) or frames[index + 1].path != frame.path:
                    handle.flush()
                    os.fsync(handle.fileno())

    def record(self, charge_point_id: str, protocol: str, direction: str, raw: str) -> dict[str, str]:
        """Append one frame durably and return the landed record."""
        frame = self.prepare(charge_point_id, protocol, direction, raw)
        self.write_batch([frame])
        return frame.record

    def _close_file(self) -> None:
        if self._open_file is not None:
            self._open_file.close()
        self._open_file = None
        self._open_path = None

    def close(self) -> None:
        """Close the current hourly file (a later record reopens in append mode)."""
        with self._lock:
            self._close_file()


class GroupCommitLog:
    """Asynchronous front of a ``FrameRecorder`` that shares one fsync among concurrent frames.

    ``record`` returns only once its frame is on disk. While one batch is being written and fsynced
    (in a worker thread, so the event loop keeps serving), frames of other connections queue up and go
    to disk together in the next batch: many charge points cost one fsync per batch, not one per frame.
    """

    def __init__(self, recorder: FrameRecorder, max_batch: int | None = None):
        self.recorder = recorder
        # None: everything queued goes in one batch; 1: one fsync per frame (for comparison).
        self.max_batch = max_batch
        self._queue: list[tuple[PreparedFrame, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def record(self, charge_point_id: str, protocol: str, direction: str, raw: str) -> dict[str, str]:
        """Stamp, queue and await durability of one frame; returns the landed record."""
        frame = self.recorder.prepare(charge_point_id, protocol, direction, raw)
        future = asyncio.get_running_loop().create_future()
        self._queue.append((frame, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future
        return frame.record

    async def _flush(self) -> None:
        while self._queue:
            size = self.max_batch or len(self._queue)
            batch, self._queue = self._queue[:size], self._queue[size:]
            try:
                await asyncio.to_thread(self.recorder.write_batch, [frame for frame, _ in batch])
            except Exception as error:  # noqa: BLE001 - every waiter must learn that its frame is not durable
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


class RecordingConnection:
    """Wraps a websocket connection so that every frame is recorded before it is used.

    ``recv`` lands the incoming frame before the ocpp package routes it (so before any answer exists);
    ``send`` lands the outgoing frame before it goes on the wire.
    """

    def __init__(self, connection, log: GroupCommitLog, charge_point_id: str, protocol: str):
        self._connection = connection
        self._log = log
        self._charge_point_id = charge_point_id
        self._protocol = protocol

    async def recv(self) -> str:
        """Receive one frame and record it as ``in``."""
        raw = await self._connection.recv()
        if isinstance(raw, bytes):
            # OCPP-J is text; a binary frame is kept (decoded leniently) so the ingest can quarantine it.
            raw = raw.decode("utf-8", errors="replace")
        await self._log.record(self._charge_point_id, self._protocol, "in", raw)
        return raw

    async def send(self, message: str) -> None:
        """Record the frame as ``out`` and then send it."""
        await self._log.record(self._charge_point_id, self._protocol, "out", message)
        await self._connection.send(message)
