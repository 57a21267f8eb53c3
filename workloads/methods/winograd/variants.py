"""The Winograd variants' matrices (REFERENCES.md §3) and tile counts, without numba, so that
registering the methods and pricing them does not import the references (reference.py
re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Variant:
    name: str
    m: int                 # output tile is m x m
    bt: np.ndarray         # (m+2) x (m+2) integers
    g_scaled: np.ndarray   # (m+2) x 3 integers = g_scale * G
    g_scale: int
    at: np.ndarray         # m x (m+2) integers

    @property
    def a(self) -> int:
        """Input tile size (m + 2) and number of taps per side."""
        return self.m + 2


F4 = Variant("F4", 4,
             np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                       [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]),
             np.array([[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 24]]),
             24,
             np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                       [0, 1, -1, 8, -8, 1]]))
F2 = Variant("F2", 2,
             np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]),
             np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]]),
             2,
             np.array([[1, 1, 1, 0], [0, 1, -1, -1]]))
VARIANTS = {"F4": F4, "F2": F2}


def tiles(P: int, Q: int, m: int) -> tuple[int, int]:
    return -(-P // m), -(-Q // m)
