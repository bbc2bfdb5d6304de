from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

_T = TypeVar("_T")

def run_sync(coro: Coroutine[Any, Any, _T]) -> _T: ...
