"""Strict equality for JSON values: types and float bits count.

``1 == 1.0 == True`` and ``0.0 == -0.0`` in Python, so ``==`` alone cannot
tell whether a number kept its type and its exact value through a record.
"""

from __future__ import annotations

import math
from typing import Any

# Numbers that a 15-significant-digit printer changes, ints beyond a double's
# precision, and floats at the edges of the double range.
EDGE_INTS = [0, -1, 2**31, -(2**31) - 1, 2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, 9007199254740993,
             2**63, -(2**63), 2**64, -(2**64), 10**100, -(10**100), 123456789012345678]
EDGE_FLOATS = [1.0, -1.0, 0.0, -0.0, 0.1, 0.1 + 0.2, 1.0000000000000002, 5e-324, -5e-324,
               2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
               -1.7976931348623157e308, 2.0**53, 2.0**53 + 2, 1e16, 1e22, 1e23, 123456789.125, 1 / 3,
               0.000001, 1e-7, 100.0, 4.35, 9007199254740993.0]
EDGE_NUMBERS = {f"i{i}": v for i, v in enumerate(EDGE_INTS)} | {f"f{i}": v for i, v in enumerate(EDGE_FLOATS)}


def same(a: Any, b: Any) -> bool:
    """a and b are the same JSON value: equal, of the same types throughout,
    floats bit for bit (a list and a tuple count as the same)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b) or (a != a and b != b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def differences(a: Any, b: Any, path: str = "$") -> list[str]:
    """Where a and b differ (for assertion messages)."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return [d for k in a for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if same(a, b) else [f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"]
