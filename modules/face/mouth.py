"""Where the mouth really is in an aligned face.

Aligning by the eyes leaves the mouth wherever the person's proportions put it (a short face or a smile can sit
8 px above the canonical mouth). The lips make the strongest horizontal edges between the nose and the chin,
so the mouth line is the centre of the 8-row window with the most vertical-gradient energy.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import canonical

SEARCH_ROWS = (74, 102)      # aligned rows between the nostrils and the chin
WINDOW = 8


def locate_mouth(aligned: np.ndarray) -> tuple[float, float]:
    """(x, y) of the mouth centre in a 128×96 aligned face; the canonical mouth when nothing stands out."""
    img = np.asarray(aligned, dtype=np.float32)
    gray = img.mean(axis=2) if img.ndim == 3 else img
    gy = cv2.Sobel(cv2.GaussianBlur(gray, (0, 0), 1.0), cv2.CV_32F, 0, 1)
    cx = canonical.MOUTH_CENTER[0]
    band = np.abs(gy[:, int(cx) - 12:int(cx) + 12]).mean(axis=1)
    y0, y1 = SEARCH_ROWS
    sums = np.convolve(band[y0:y1], np.ones(WINDOW), mode="valid")
    if sums.size == 0 or float(sums.max()) < 8.0 * WINDOW:
        return canonical.MOUTH_CENTER
    start = y0 + int(np.argmax(sums))
    rows = np.arange(start, start + WINDOW)
    weights = band[start:start + WINDOW]
    return float(cx), float((rows * weights).sum() / weights.sum())
