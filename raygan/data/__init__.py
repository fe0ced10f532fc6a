"""Training data of the studies: emoticon corpora (kaomoji.py) and digit images (digits.py)."""


class DataError(ValueError):
    """Bad data input: one line naming the file (and line) and the rule."""
