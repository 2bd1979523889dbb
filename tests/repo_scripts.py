"""The repository's scripts (bench/, tools/), which are not part of the package, loaded as modules
for the tests that call their functions."""
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load_script(relative):
    """The script at REPO / relative (e.g. 'bench/run_benchmarks.py') as a module."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
