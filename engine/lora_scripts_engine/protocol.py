"""The engine's half of the JSON-lines protocol: events written to stdout, the version, and the one failure type.

Only `emit()` writes to stdout. Human-readable logs go to stderr through `log()`.
Adding an optional event field keeps PROTOCOL_VERSION; renaming or removing a field bumps it.
The TypeScript side parses the same events with one zod union (src/engine/protocol.ts);
tests/fixtures/protocol/*.jsonl are parsed by both test suites.

The request read from stdin is typed in request.py (one dataclass per command).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

PROTOCOL_VERSION = 2

# stdout is the protocol channel. Libraries that print (tqdm, diffusers warnings) must not
# write there, so __main__ swaps sys.stdout for stderr and keeps the real stream here.
_channel: TextIO = sys.stdout


def set_channel(stream: TextIO) -> None:
    global _channel
    _channel = stream


def emit(event_type: str, **fields: Any) -> None:
    """Write one protocol event as a single JSON line and flush it."""
    line = json.dumps({"type": event_type, **fields}, separators=(",", ":"), allow_nan=False)
    _channel.write(line + "\n")
    _channel.flush()


def log(message: str) -> None:
    """A human log line: stderr, kept in <output_dir>/logs/engine.log by the TypeScript side."""
    print(message, file=sys.stderr, flush=True)


class EngineFailure(Exception):
    """An expected failure the user can fix; becomes one `error` event with code, culprit and hint."""

    def __init__(self, code: str, message: str, *, culprit: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.culprit = culprit
        self.hint = hint

    def emit(self) -> None:
        emit("error", code=self.code, message=self.message, culprit=self.culprit, hint=self.hint)
