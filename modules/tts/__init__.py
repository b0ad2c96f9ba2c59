"""Text-to-speech engines as pure compute (text → samples + events); nothing here knows the project layout."""

from .espeak import EspeakError, EspeakEvent, EspeakVoice, is_available, synthesize

__all__ = ["EspeakError", "EspeakEvent", "EspeakVoice", "is_available", "synthesize"]
