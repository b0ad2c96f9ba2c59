"""Animate: the base motion transferred onto each speaker's portrait (256×256 clips) — previewed per chunk."""

from ui.chunks import ANIMATE, stage_page

stage_page(ANIMATE, "The motion of each chunk's base is transferred onto the speaker's portrait (256×256). "
                          "A chunk whose base is missing gets it rendered first.")
