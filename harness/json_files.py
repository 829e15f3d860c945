"""JSON documents the harness writes and reads back (matrices, failing specs)."""

from __future__ import annotations

import json
from pathlib import Path


def write_json(path: Path, data: object) -> Path:
    """Indented, non-ASCII kept as is, one newline at the end; parent folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_json(path: Path, error: type[Exception]) -> object:
    """The parsed document; ``error`` naming the file (and line) when it cannot be had."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as failure:
        raise error(f"{path}: cannot read: {failure.strerror}") from None
    except json.JSONDecodeError as failure:
        raise error(f"{path}:{failure.lineno}: not JSON: {failure.msg}") from None
