"""A picture of the story's shape: chunks as bars to scale, coloured by speaker — an SVG string, no UI library.

Why SVG: it scales to any page width, carries a tooltip per chunk (`<title>`), and is plain text a test can read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

# Distinct, readable on dark and light backgrounds (Okabe–Ito palette, colour-blind safe).
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")


def speaker_colors(speakers: Iterable[str]) -> dict[str, str]:
    """Speaker → colour, in order of first appearance (the palette repeats after 8 speakers)."""
    return {speaker: PALETTE[i % len(PALETTE)] for i, speaker in enumerate(dict.fromkeys(speakers))}


def _seconds(value: float) -> str:
    minutes, seconds = divmod(value, 60)
    return f"{int(minutes)}:{seconds:04.1f}" if minutes else f"{seconds:.1f} s"


def timeline_svg(chunks: Sequence, sample_rate: int, width: int = 1000, bar_height: int = 44) -> str:
    """SVG of the story: one bar per chunk (x and width proportional to its samples), a legend and a time axis.

    `chunks` are `chunks.Chunk`s (speaker, start_sample, num_samples, index, sentence_ids).
    """
    total = sum(chunk.num_samples for chunk in chunks)
    colors = speaker_colors(chunk.speaker for chunk in chunks)
    legend_height = 26
    axis_height = 22
    height = legend_height + bar_height + axis_height
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'role="img" aria-label="Story timeline" style="font-family: sans-serif; font-size: 15px">']
    x = 0
    for speaker, color in colors.items():   # legend
        label = escape(speaker if len(speaker) <= 24 else speaker[:23] + "…")
        parts.append(f'<rect x="{x}" y="4" width="14" height="14" rx="2" fill="{color}"/>'
                     f'<text x="{x + 19}" y="16" fill="#888">{label}</text>')
        x += 34 + 9 * len(label)
    if total <= 0:
        parts.append("</svg>")
        return "".join(parts)
    scale = width / total
    for chunk in chunks:
        start = chunk.start_sample * scale
        span = max(1.0, chunk.num_samples * scale)
        seconds = chunk.num_samples / sample_rate
        tip = (f"Chunk {chunk.index + 1} · {chunk.speaker} · {seconds:.1f} s · "
               f"{len(chunk.sentence_ids)} sentence(s)")
        parts.append(f'<g><title>{escape(tip)}</title>'
                     f'<rect x="{start:.2f}" y="{legend_height}" width="{max(span - 1, 1):.2f}" '
                     f'height="{bar_height}" fill="{colors[chunk.speaker]}" rx="2"/>')
        if span > 22:
            parts.append(f'<text x="{start + span / 2:.2f}" y="{legend_height + bar_height / 2 + 5}" '
                         f'text-anchor="middle" fill="#111">{chunk.index + 1}</text>')
        parts.append("</g>")
    duration = total / sample_rate
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 1e9) if duration / s <= 10)
    tick = 0.0
    y = legend_height + bar_height
    while tick <= duration + 1e-9:
        tx = min(width - 1, tick * sample_rate * scale)
        anchor = "start" if tick == 0 else ("end" if tx > width - 30 else "middle")
        parts.append(f'<line x1="{tx:.2f}" y1="{y}" x2="{tx:.2f}" y2="{y + 4}" stroke="#888"/>'
                     f'<text x="{tx:.2f}" y="{y + 19}" fill="#888" text-anchor="{anchor}">{_seconds(tick)}</text>')
        tick += step
    parts.append("</svg>")
    return "".join(parts)


def plan_rows(chunks: Sequence, sample_rate: int, sentences: Sequence | None = None) -> list[dict]:
    """The chunk plan as table rows: chunk number, speaker, seconds, sentence count, first words."""
    rows = []
    for chunk in chunks:
        first = ""
        if sentences is not None and chunk.sentence_ids:
            first = " ".join(sentences[chunk.sentence_ids[0]].text.split())
            first = first if len(first) <= 60 else first[:59] + "…"
        rows.append({"chunk": chunk.index + 1, "speaker": chunk.speaker,
                     "start (s)": round(chunk.start_sample / sample_rate, 2),
                     "duration (s)": round(chunk.num_samples / sample_rate, 2),
                     "sentences": len(chunk.sentence_ids), "begins with": first})
    return rows
