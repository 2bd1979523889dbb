"""Type aliases of the public API (the package ships ``py.typed``).

``ArrayLike`` is what the models accept as data: a NumPy array, or anything ``np.asarray``
reads (lists of rows, images). It is ``Any`` to type checkers because every entry point
validates and converts it itself (dtype, shape, finiteness), with errors that name the argument.
"""
from typing import Any

ArrayLike = Any
