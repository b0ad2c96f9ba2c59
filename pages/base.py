"""Base: each chunk's audio drives a 128×96 face (lip-sync, blinks, slight head motion) — previewed per chunk."""

from ui.chunks import BASE, stage_page

stage_page(BASE, "Each chunk's audio drives the speaker's aligned face at 128×96, 25 fps. Preview a chunk, "
                       "render it, or retry it with a new seed; the other chunks are kept.")
