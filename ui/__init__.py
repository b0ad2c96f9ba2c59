"""Streamlit glue shared by `studio.py` and the pages: session state, cached model loaders, small widgets.

All product logic lives in `deepstory_core`; this package only turns it into widgets.
"""
