"""The commit marker of a directory of Parquet parts (what ``--engine ray|spark`` writes).

Object stores have no atomic directory rename, so a directory of parts is committed by a
``_SUCCESS`` file written after every part: JSON with the run's summary and ``parts``, each
part's name (relative to the directory), rows and errors. Readers that find such a marker
trust exactly the parts it lists; a directory without one is read whole. Writing the parts is
the engines' business; this module only writes, removes and reads the marker.
"""

from __future__ import annotations

import json

SUCCESS = "_SUCCESS"
# The manifest an unfinished output's <output>.parts/ directory holds (see infer.outputs).
MANIFEST_NAME = "manifest.json"


def write_marker(filesystem, root: str, summary: dict, parts: list[dict]) -> None:
    """Commit ``root`` (a directory in the pyarrow file system ``filesystem``)."""
    with filesystem.open_output_stream(f"{root}/{SUCCESS}", compression=None) as f:
        f.write(json.dumps({**summary, "parts": parts}, indent=1).encode())


def remove_marker(filesystem, root: str) -> None:
    """Uncommit ``root`` before any of its parts is replaced."""
    from pyarrow import fs

    if filesystem.get_file_info(f"{root}/{SUCCESS}").type == fs.FileType.File:
        filesystem.delete_file(f"{root}/{SUCCESS}")


def listed_parts(filesystem, root: str) -> list[str] | None:
    """The parts that ``root``'s marker lists (names relative to ``root``), or None when it has
    no marker of ours (none, or Spark's own empty ``_SUCCESS``)."""
    try:
        with filesystem.open_input_stream(f"{root}/{SUCCESS}", compression=None) as f:
            meta = json.loads(f.read() or b"null")
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("parts"), list):
        return None
    return [p["name"] for p in meta["parts"]]
