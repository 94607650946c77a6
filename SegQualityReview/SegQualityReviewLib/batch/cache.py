"""A per-cell score cache under OUT/.cache, keyed by the sha256 of the inputs, so interrupted runs resume.

Each (case, model) cell is one JSON file named after the sha256 of (prediction file hash, ground-truth
file hash, label-map hashes, scoring options, package version): changing any input misses the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from .. import __version__

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks; for a per-case folder (masks, DICOM), of every
    file's relative name and sha256 in sorted order, so adding, renaming or editing one changes it."""
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for member in sorted(item for item in path.rglob("*") if item.is_file()):
            digest.update(f"{member.relative_to(path).as_posix()}\0{file_sha256(member)}\n".encode())
        return digest.hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cell_key(
    *,
    gt_sha: str,
    pred_sha: str | None,
    gt_label_map_sha: str | None,
    pred_label_map_sha: str | None,
    scoring: Mapping[str, Any],
) -> str:
    """The cache key of one cell: sha256 of its inputs' hashes, the scoring options and our version."""
    content = {
        "gt": gt_sha,
        "pred": pred_sha,
        "gt_label_map": gt_label_map_sha,
        "pred_label_map": pred_label_map_sha,
        "scoring": dict(scoring),
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


class ScoreCache:
    """Cell results stored as ``<key>.json`` files; writes go through a temporary file and a rename."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.folder / f"{key}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def put(self, key: str, content: Mapping[str, Any]) -> None:
        path = self.folder / f"{key}.json"
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(content), encoding="utf-8")
        os.replace(partial, path)
