"""Speech recognition as pure compute (16 kHz samples → text), for checking synthesised speech."""
