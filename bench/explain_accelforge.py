"""Explanations of the differences in bench/RESULTS_accelforge.md (used by bench_accelforge)."""


def explain_row(row, acc):
    return []


def general_notes():
    return []
