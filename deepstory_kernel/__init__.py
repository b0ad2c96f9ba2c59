"""The leaves every layer may import: errors, stage contracts, media constants, device choice, safe checkpoint
loading. `modules/` (networks, animators) imports only this package, never `deepstory_core`, so the compute code
stays free of the project's file layout and UI; `deepstory_core` builds on both."""
