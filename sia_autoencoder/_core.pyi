# The compiled core (csrc/module.c) as type checkers see it: every name is there, untyped. Its
# entry points are private; the package's Python API is typed.
from typing import Any

def __getattr__(name: str) -> Any: ...
