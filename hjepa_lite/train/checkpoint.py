"""Checkpoints that survive interruption: write to a temporary file, then rename.

``os.replace`` is atomic on one file system, so a checkpoint file is always either the old
complete one or the new complete one, even if Ctrl-C or a crash lands mid-write. Loading
uses ``torch.load(weights_only=True)``: a checkpoint holds only tensors and plain data.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "FORMAT",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "check_writable_folder",
    "load_checkpoint",
]

# Version of what a checkpoint holds. 2: the hierarchy head grouped by top-down step
# (``top_down.<l>.layer/upsample/fuse``, ``bottom_up_path``); 1 had one list per kind of layer.
FORMAT = 2


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; use the usual mode
        os.replace(tmp, path)
    except BaseException:  # also KeyboardInterrupt: never leave a half-written file behind
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically."""
    _atomic_write(Path(path), lambda f: torch.save(obj, f))


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` atomically."""
    _atomic_write(Path(path), lambda f: f.write(data))


def check_writable_folder(path: str | os.PathLike, what: str) -> Path:
    """Create folder ``path`` if needed and check a file can be written there, so a bad
    folder fails before any work rather than at the first save. Raises ValueError naming
    ``what`` (e.g. ``"--out"``) and the reason."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file, not a folder; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise ValueError(f"{what} {path} is not a writable folder: {err.strerror}") from err
    return path


def atomic_write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    _atomic_write(Path(path), lambda f: f.write((json.dumps(obj, indent=1) + "\n").encode()))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`atomic_save` (tensors and plain data only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated, corrupt, not a torch file, or pickled code
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{path} cannot be read as a checkpoint (truncated, damaged, or not written by "
            f"torch.save of tensors and plain data): {reason}"
        ) from err
    if isinstance(state, dict) and "model" in state and state.get("format") != FORMAT:
        raise ValueError(
            f"{path} was written by an earlier hjepa_lite (checkpoint format "
            f"{state.get('format')}, this version reads {FORMAT}: the hierarchy head's layout "
            "changed); train it again (CLI: --fresh, or another --out)"
        )
    return state
