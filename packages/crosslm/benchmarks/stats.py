"""Means with 95% intervals over seeds (Student t), and paired differences between methods."""

from __future__ import annotations

import math
import statistics

# Two-sided 95% Student t quantiles by degrees of freedom (a table: no scipy for five numbers).
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145]


def t95(n: int) -> float:
    """The two-sided 95% Student t quantile for n samples (n - 1 degrees of freedom)."""
    if n < 2:
        return math.nan
    return _T975[n - 2] if n - 2 < len(_T975) else 2.131 if n <= 16 else 2.09 if n <= 21 else 1.96


def mean_ci(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% interval); the half-width is nan for fewer than two values."""
    vals = [v for v in values if v == v]
    if not vals:
        return math.nan, math.nan
    m = statistics.fmean(vals)
    if len(vals) < 2:
        return m, math.nan
    return m, t95(len(vals)) * statistics.stdev(vals) / math.sqrt(len(vals))


def paired_diff(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean and 95% half-width of a - b over paired seeds."""
    return mean_ci([x - y for x, y in zip(a, b, strict=True)])


def fmt(mean: float, half: float, digits: int = 3) -> str:
    if mean != mean:
        return "n/a"
    return f"{mean:.{digits}f}" if half != half else f"{mean:.{digits}f} ± {half:.{digits}f}"
