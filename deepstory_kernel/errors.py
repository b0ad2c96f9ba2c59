"""Errors a user can act on.

Every problem caused by input (a story, a cast file, a portrait, a weight file, a full disk) is raised as a
`DeepstoryError` whose message is one readable line saying what is wrong and what to do. The CLI prints it and
exits non-zero; the studio shows it with `st.error`. Anything else is a bug and may surface as a traceback.
"""


class DeepstoryError(Exception):
    """Base class: `str(err)` is a complete, user-facing sentence."""


class InputError(DeepstoryError):
    """The user's input (story text, cast, image, audio, path) cannot be used as given."""


class ModelUnavailableError(DeepstoryError):
    """A backend's weights are missing or unusable; the message says which file goes where."""


class StorageError(DeepstoryError):
    """Reading or writing the project on disk failed (full disk, permissions, corrupt file)."""
