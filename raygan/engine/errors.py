"""What the engine raises: bad input (exit 2) and an interrupted study (resumable)."""

from __future__ import annotations


class StudyError(ValueError):
    """Bad input found by the engine (run name, resources, resume): one line, exit 2."""


class StudyInterrupted(RuntimeError):
    """The study was stopped (Ctrl-C) before its budget was spent. Tune saved its state
    first: ``--resume`` continues from there. ``finished`` trials have their rows,
    in the folder ``parts`` (a path or URI)."""

    def __init__(self, *, name: str, parts: str, finished: int, total: int, what="trials"):
        super().__init__(f"interrupted: {finished} of {total} {what} finished")
        self.name, self.parts, self.finished, self.total = name, parts, finished, total
