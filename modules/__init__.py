"""Networks and animators: pure compute on arrays/tensors, no knowledge of the project's file layout."""
