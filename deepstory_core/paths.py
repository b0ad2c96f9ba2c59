"""Every folder Deepstory reads or writes, resolved in one place.

Why one place: the data folder used to be computed by the registry (honouring `DEEPSTORY_DATA`) and by the voices
(ignoring it), so a voice the Models page listed could not be loaded. Now every caller asks `paths()` and the
environment variables are read here only:

  DEEPSTORY_DATA            the data folder (weights: `sda/`, `fom/`, `dctts/<voice>/`, …); default `<home>/data`
  DEEPSTORY_PROJECTS        where projects live; default `<home>/projects`
  DEEPSTORY_PORTRAITS_DIR   where built-in portraits are made; default `<home>/data/portraits` (made, not
                            brought: it stays there even when DEEPSTORY_DATA points elsewhere)

`<home>` is the source checkout, or `~/.deepstory` when the package is installed (`pip install .`).
  TORCH_HOME / XDG_CACHE_HOME   torch hub's cache (face-alignment's weights); default `~/.cache/torch`

The environment is read when `paths()` is called (cheap), not frozen at import, so a test or a launcher that sets
a variable is honoured by the next call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def home() -> Path:
    """Where data and projects live by default: the source checkout (beside the code), or `~/.deepstory` for an
    installed package (site-packages is no place for user files)."""
    return REPO if (REPO / "pyproject.toml").is_file() else Path.home() / ".deepstory"


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
    base = home()
    data = _env_path("DEEPSTORY_DATA") or base / "data"
    torch_home = _env_path("TORCH_HOME") or (_env_path("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    return Paths(
        repo=REPO,
        data=data,
        projects=_env_path("DEEPSTORY_PROJECTS") or base / "projects",
        portraits=_env_path("DEEPSTORY_PORTRAITS_DIR") or base / "data" / "portraits",
        torch_hub=torch_home / "hub" / "checkpoints",
    )


def data_dir() -> Path:
    return paths().data
