"""Build the notebooks in notebooks/ from their sources in tools/notebook_sources/, and execute
them in place, so that they are committed with their outputs (figures embedded).

    python tools/build_notebooks.py              # every notebook
    python tools/build_notebooks.py 01 03        # those whose name starts with 01 or 03
    python tools/build_notebooks.py --no-execute # write them without outputs

A source is a Python file in the "percent" format (as jupytext writes it): a line ``# %%``
opens a code cell, ``# %% [markdown]`` a markdown cell whose lines are comments (``# text``).
Edit the source, not the .ipynb, then rebuild; tests/test_notebooks.py runs every notebook.
"""
import argparse
import os
import re
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.join(REPO, "tools", "notebook_sources")
NOTEBOOKS = os.path.join(REPO, "notebooks")
_MARK = re.compile(r"^# %%(?:\s*\[(\w+)\])?\s*$")


def parse_percent(text):
    """[(kind, source)] from a percent-format file: kind is 'code' or 'markdown'."""
    cells, kind, lines = [], None, []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind is not None and body.strip():
            cells.append((kind, body))

    for line in text.splitlines():
        m = _MARK.match(line)
        if m:
            flush()
            kind, lines = ("markdown" if m.group(1) == "markdown" else "code"), []
        elif kind == "markdown":
            if line.strip() and not line.startswith("#"):
                raise ValueError(f"markdown line without '# ': {line!r}")
            lines.append(line[2:] if line.startswith("# ") else line[1:])
        elif kind == "code":
            lines.append(line)
    flush()
    return cells


def make_notebook(cells):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    nb = new_notebook(metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    nb.cells = [new_markdown_cell(s) if k == "markdown" else new_code_cell(s) for k, s in cells]
    for i, cell in enumerate(nb.cells):  # stable ids: clean diffs when a notebook is rebuilt
        cell["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    return nb


def kernel_env():
    """The kernel must import this checkout's package even when it is not installed."""
    path = os.environ.get("PYTHONPATH", "")
    return REPO + (os.pathsep + path if path else "")


def execute(nb, cwd, timeout=600):
    """Run every cell in a fresh python3 kernel started in ``cwd``; raises on the first error."""
    from nbclient import NotebookClient
    os.environ["PYTHONPATH"] = kernel_env()
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": cwd}})
    client.execute()
    return nb


def build(name, run=True):
    import nbformat
    with open(os.path.join(SOURCES, name + ".py"), encoding="utf-8") as f:
        nb = make_notebook(parse_percent(f.read()))
    t0 = time.perf_counter()
    if run:
        execute(nb, NOTEBOOKS)
    path = os.path.join(NOTEBOOKS, name + ".ipynb")
    nbformat.write(nb, path)
    print(f"{path}: {len(nb.cells)} cells" + (f", executed in {time.perf_counter() - t0:.1f} s"
                                               if run else ""))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="prefixes of the notebooks to build (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without outputs")
    args = parser.parse_args(argv)
    names = sorted(f[:-3] for f in os.listdir(SOURCES) if f.endswith(".py"))
    chosen = [n for n in names if not args.names or any(n.startswith(p) for p in args.names)]
    if not chosen:
        sys.exit(f"no source matches {args.names}; have {names}")
    for name in chosen:
        build(name, run=not args.no_execute)


if __name__ == "__main__":
    main()
