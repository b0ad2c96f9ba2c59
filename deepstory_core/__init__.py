"""Deepstory Studio without a UI: story → voices → chunks → talking-portrait video.

Never imports streamlit; the studio (`studio.py`, `pages/`) is a thin layer over this package.
"""

__version__ = "0.1.0"
