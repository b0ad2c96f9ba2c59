"""Every folder Deepstory reads or writes, resolved in one place.

Why one place: the data folder used to be computed by the registry (honouring `DEEPSTORY_DATA`) and by the voices
(ignoring it), so a voice the Models page listed could not be loaded. Now every caller asks `paths()` and the
environment variables are read here only:

  DEEPSTORY_DATA            the data folder (weights: `sda/`, `fom/`, `dctts/<voice>/`, …); default `<repo>/data`
  DEEPSTORY_PROJECTS        where projects live; default `<repo>/projects`
  DEEPSTORY_PORTRAITS_DIR   where built-in portraits are made; default `<repo>/data/portraits` (made, not
                            brought: it stays beside the code even when DEEPSTORY_DATA points elsewhere)
  TORCH_HOME / XDG_CACHE_HOME   torch hub's cache (face-alignment's weights); default `~/.cache/torch`

The environment is read when `paths()` is called (cheap), not frozen at import, so a test or a launcher that sets
a variable is honoured by the next call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Paths:
    repo: Path
    data: Path
    projects: Path
    portraits: Path
    torch_hub: Path          # torch hub's `checkpoints/` folder

    def dctts(self, voice: str = "") -> Path:
        """`<data>/dctts` or one voice's folder in it."""
        return self.data / "dctts" / voice if voice else self.data / "dctts"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def paths() -> Paths:
    """The folders for this process, from the environment (see the module docstring)."""
    data = _env_path("DEEPSTORY_DATA") or REPO / "data"
    torch_home = _env_path("TORCH_HOME") or (_env_path("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    return Paths(
        repo=REPO,
        data=data,
        projects=_env_path("DEEPSTORY_PROJECTS") or REPO / "projects",
        portraits=_env_path("DEEPSTORY_PORTRAITS_DIR") or REPO / "data" / "portraits",
        torch_hub=torch_home / "hub" / "checkpoints",
    )


def data_dir() -> Path:
    return paths().data
