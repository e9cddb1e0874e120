"""Execute the notebook series in order with papermill: ``python -m dilpose.runner``.

Notebook sources are jupytext percent files ``notebooks/NN_name.py`` (diffable text); each is turned
into a notebook with a Python kernelspec (papermill needs one), executed with the profile's
parameters into ``reports/executed/NN_name.ipynb`` and, with ``--update-notebooks``, copied to
``notebooks/NN_name.ipynb`` so that the repository shows a real run's figures.

When a notebook fails, the runner stops and says which notebook, which cell and what error.

While a notebook runs, the console shows each section as it starts (its ``##`` heading) and, from
inside the kernel, a line per epoch of any model in training with its time left
(:class:`dilpose.callbacks.LineProgress`). ``--retrain`` trains every cached model once more
(:mod:`dilpose.cache`). Executed notebooks are saved without widget state.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import datasets, paths
from .cli import add_series_options
from .errors import DataError
from .fileio import check_folder, pid_running, write_text

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook and the cell."""


def notebook_sources(only: list[str] | None = None) -> list[Path]:
    """The ``NN_*.py`` sources in order; ``only`` filters by number prefix (e.g. ["01", "02"])."""
    found = sorted(p for p in paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))
    if only:
        found = [p for p in found if p.name[:2] in only]
        missing = set(only) - {p.name[:2] for p in found}
        if missing:
            raise SystemExit(f"no notebook source for {sorted(missing)} in {paths.NOTEBOOKS_DIR}")
    return found


#: How an executed notebook is paired with its jupytext source.
PAIRING = "ipynb,py:percent"


def to_notebook(source: Path):
    """Read a jupytext source into an nbformat notebook with a kernelspec."""
    import jupytext

    nb = jupytext.read(source)
    # Paired with its source: the .py says "py:percent" only, and JupyterLab's jupytext extension
    # refuses to open an .ipynb whose pairing does not name ipynb.
    nb.metadata.setdefault("jupytext", {})["formats"] = PAIRING
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def sections(nb) -> dict[str, str]:
    """Code cell id -> the ``#``/``##`` heading of the section the cell belongs to."""
    out, current = {}, None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            current = next(
                (
                    line.lstrip("#").strip()
                    for line in cell.source.splitlines()
                    if line.startswith(("# ", "## "))
                ),
                current,
            )
        elif current is not None and "id" in cell:
            out[cell["id"]] = current
    return out


def _remove_stale_runs(output: Path) -> None:
    """Delete ``.<stem>.<pid>.running.ipynb`` beside ``output`` left by a killed runner."""
    for tmp in output.parent.glob(f".{output.stem}.*.running.ipynb"):
        pid = tmp.name.split(".")[-3]
        if pid.isdigit() and not pid_running(int(pid)):
            tmp.unlink(missing_ok=True)


def execute(source: Path, output: Path, parameters: dict, timeout: int | None = None) -> float:
    """Execute one notebook with papermill; return seconds. Raises :class:`NotebookFailed`, or a
    :class:`DataError` naming the folder when the executed notebook cannot be written there.

    papermill saves the notebook after every cell, so it runs into a hidden
    ``.<stem>.<pid>.running.ipynb`` that replaces ``output`` only when the run ends: a killed
    runner never leaves a half-executed notebook where the results are read (the next run removes
    its leftover). A failed notebook replaces ``output`` too: it holds the traceback.
    """
    import nbformat
    import papermill as pm

    nb = to_notebook(source)
    folder = check_folder(output.parent)
    _remove_stale_runs(output)
    staged = output.with_name(f".{output.stem}.input.ipynb")
    running = output.with_name(f".{output.stem}.{os.getpid()}.running.ipynb")
    write_text(staged, nbformat.writes(nb))
    # Cell ids survive papermill's injected parameters cell, so they find each cell's section.
    section_of, announced = sections(nb), set()

    def on_cell_start(cell, **_):
        title = section_of.get(cell.get("id"))
        if title is not None and title not in announced:
            announced.add(title)
            print(f"[dilpose]   {source.stem[:2]} · {title}", flush=True)

    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(staged),
            str(running),
            parameters=parameters,
            kernel_name=KERNELSPEC["name"],
            cwd=str(source.parent),
            progress_bar=False,
            execution_timeout=timeout,
            on_cell_start=on_cell_start,
            # ipykernel warns about TCP on every start; the kernel only listens on
            # localhost for this one run, so the warning is noise on the console.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        _finish(running, output)
    except pm.PapermillExecutionError as e:
        _finish(running, output)
        raise NotebookFailed(
            f"{source.name} failed in cell {e.cell_index} "
            f"(execution count {e.exec_count}): {e.ename}: {e.evalue}\n"
            f"executed notebook with the traceback: {output}"
        ) from None
    except OSError as e:  # a full disk or a folder that became read-only, while saving
        raise DataError(folder, f"cannot write {running.name} here: {e.strerror or e}") from None
    finally:
        staged.unlink(missing_ok=True)
        running.unlink(missing_ok=True)  # still here only if the run did not finish
    return time.perf_counter() - start


def _finish(running: Path, output: Path) -> None:
    """Strip the widget state of the executed notebook and move it onto ``output``."""
    strip_widget_state(running)
    os.replace(running, output)


def strip_widget_state(path: Path) -> None:
    """Drop the notebook-level widget state (progress bars, sliders): megabytes of JSON that render
    as nothing outside a live kernel, and noise in every diff."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if nb.metadata.pop("widgets", None) is not None:
        write_text(path, nbformat.writes(nb))


def run(
    profile: str = "default",
    dataset: str = datasets.DEFAULT,
    seed: int = 0,
    only: list[str] | None = None,
    update_notebooks: bool = False,
    retrain: bool = False,
) -> dict[str, float]:
    """Run the series; returns seconds per notebook. retrain: every cached model is trained again
    (once: a model trained earlier in this run is reused by later notebooks)."""
    import shutil

    if retrain:
        os.environ["DILPOSE_RETRAIN_SINCE"] = str(time.time())  # inherited by the kernels

    params = {"profile": profile, "dataset": dataset, "seed": seed}
    times = {}
    for source in notebook_sources(only):
        output = paths.executed_dir() / f"{source.stem}.ipynb"
        print(
            f"[dilpose] {source.name}  profile={profile} dataset={dataset} seed={seed} ...",
            flush=True,
        )
        times[source.stem] = execute(source, output, params)
        print(f"[dilpose] {source.name} done in {times[source.stem]:.0f} s -> {output}", flush=True)
        if update_notebooks:
            shutil.copyfile(output, source.with_suffix(".ipynb"))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dilpose.runner", description=__doc__.split("\n\n")[0]
    )
    add_series_options(parser)
    parser.add_argument("--only", nargs="*", help="notebook numbers to run, e.g. 01 02")
    parser.add_argument(
        "--update-notebooks",
        action="store_true",
        help="copy the executed notebooks over notebooks/*.ipynb (for committing)",
    )
    parser.add_argument(
        "--retrain", action="store_true", help="train every model again instead of using the cache"
    )
    args = parser.parse_args(argv)
    print(f"[dilpose] reports -> {paths.reports_dir()}", flush=True)
    try:
        times = run(
            args.profile, args.dataset, args.seed, args.only, args.update_notebooks, args.retrain
        )
    except (NotebookFailed, DataError) as e:
        print(f"[dilpose] ERROR: {e}", file=sys.stderr, flush=True)
        return 1
    print(f"[dilpose] {len(times)} notebook(s) in {sum(times.values()):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    # silence a debugger warning in kernels
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    sys.exit(main())
