"""`python -m deepstory_core ...` — see `deepstory_core.cli`."""

from deepstory_core.cli import main

raise SystemExit(main())
