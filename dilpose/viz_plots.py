"""Charts of results: receptive-field diagrams, learning curves, bar charts with intervals,
activation heatmaps, MPJPE against labelled data, and confusion matrices. Functions return figures;
saving goes through :mod:`dilpose.report`.

matplotlib is imported lazily and no backend is forced, so importing this module has no effect on
a notebook's inline plotting.
"""

from __future__ import annotations

import numpy as np

from .batches import receptive_field


def receptive_field_diagram(filter_widths=(3, 3, 3), causal: bool = False, ax=None):
    """Which input frames one output frame sees, layer by layer (dilations w0, w0*w1, ...).

    Draws the frames feeding a single output through each layer; every layer multiplies the
    receptive field by its width. Returns the figure.
    """
    import matplotlib.pyplot as plt

    widths = list(filter_widths)
    rf = receptive_field(widths)
    if ax is None:
        fig, ax = plt.subplots(figsize=(min(14, 0.3 * rf + 2), 0.9 * len(widths) + 1.2))
    else:
        fig = ax.figure
    # Walk from the output down: layer k (from the top) has nodes spaced by the product of the
    # widths below it; each node fans out to `width` nodes of the layer below.
    nodes, labels = [np.array([0])], ["output"]
    for k in range(len(widths) - 1, -1, -1):
        step = receptive_field(widths[:k])
        offsets = (np.arange(widths[k]) - (0 if causal else (widths[k] - 1) // 2)) * step
        if causal:
            offsets = offsets - offsets.max()
        below = nodes[-1][:, None] + offsets[None, :]
        level = len(widths) - k
        for parent, children in zip(nodes[-1], below):
            for child in children:
                ax.plot([parent, child], [level - 1, level], color="0.6", lw=0.8)
        nodes.append(np.unique(below.ravel()))
        labels.append("2D input frames" if k == 0 else f"layer {k} · read at dilation {step}")
    for level, xs in enumerate(nodes):
        ax.scatter(
            xs,
            np.full(len(xs), level),
            s=18,
            color="tab:red" if level == 0 else "tab:blue",
            zorder=3,
        )
    ax.set_yticks(range(len(nodes)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("input frame relative to the output frame")
    ax.set_title(
        f"{'causal' if causal else 'symmetric'} receptive field: "
        f"widths {tuple(widths)} -> {rf} frames"
    )
    return fig


def learning_curves(histories: dict[str, list[dict]]):
    """Training loss (and validation MPJPE where recorded) per epoch, one line per run."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        (line,) = ax.plot(
            epochs, [h["loss_mm"] for h in history], marker="o", label=f"{name} train"
        )
        if any(h.get("val_mpjpe_mm") is not None for h in history):
            ax.plot(
                epochs,
                [h["val_mpjpe_mm"] for h in history],
                ls="--",
                color=line.get_color(),
                label=f"{name} test",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("MPJPE (mm)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def bar_chart(
    values: dict[str, float],
    ylabel: str = "MPJPE (mm)",
    title: str = "",
    reference: dict | None = None,
):
    """A labelled bar per entry; ``reference`` adds dashed horizontal lines (e.g. published
    numbers)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.3 * len(values) + 2, 3.8))
    bars = ax.bar(list(values), list(values.values()), color="tab:blue")
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    for k, (label, v) in enumerate((reference or {}).items()):
        ax.axhline(v, ls="--", color=f"C{k + 1}", lw=1, label=label)
    if reference:
        ax.legend(fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def interval_chart(
    rows: dict[str, dict], xlabel: str = "MPJPE over test frames (mm)", title: str = ""
):
    """One row per arm, in the order given (top to bottom): its mean as a dot and its 95 %
    interval as a line, with the numbers beside it. ``rows[label]``: a dict with ``mean``, ``lo``,
    ``hi`` (mm) and optionally ``note`` (e.g. the seeds), as :mod:`dilpose.stats` intervals give
    them."""
    import matplotlib.pyplot as plt

    labels = list(rows)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.4))
    for y, label in enumerate(labels):
        r = rows[label]
        ax.plot([r["lo"], r["hi"]], [y, y], color="tab:blue", lw=2)
        ax.plot(r["mean"], y, "o", color="tab:blue")
        text = f"{r['mean']:.1f} [{r['lo']:.1f}, {r['hi']:.1f}]" + (
            f"  {r['note']}" if r.get("note") else ""
        )
        ax.annotate(text, (r["hi"], y), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=9)  # fmt: skip
    ax.set_yticks(range(len(labels)), labels, fontsize=10)
    ax.invert_yaxis()  # the first row on top
    lo = min(r["lo"] for r in rows.values())
    hi = max(r["hi"] for r in rows.values())
    ax.set_xlim(lo - 0.05 * (hi - lo + 1), hi + 0.45 * (hi - lo + 1))  # room for the numbers
    ax.set_xlabel(xlabel, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def receptive_field_figure(filter_widths=(3, 3, 3)):
    """Symmetric (top) and causal (bottom) receptive-field diagrams of the same widths."""
    import matplotlib.pyplot as plt

    rf = receptive_field(filter_widths)
    fig, axes = plt.subplots(2, 1, figsize=(min(14, 0.3 * rf + 3), 1.8 * len(filter_widths) + 2))
    receptive_field_diagram(filter_widths, causal=False, ax=axes[0])
    receptive_field_diagram(filter_widths, causal=True, ax=axes[1])
    fig.tight_layout()
    return fig


def activation_heatmaps(acts: dict[str, np.ndarray], title: str = ""):
    """One heat map per entry of ``acts`` ({label: (C, T) activations}): channels (rows) over time
    (columns), zeros white, on one colour scale so that rescaled values show as darker."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(acts), figsize=(2.6 * len(acts) + 1, 4.2), sharey=True)
    axes = np.atleast_1d(axes)
    vmax = max(float(np.percentile(a, 99)) for a in acts.values()) or 1.0
    for ax, (label, a) in zip(axes, acts.items()):
        shown = np.ma.masked_equal(a, 0.0)  # exact zeros (ReLU's and the regulariser's) in white
        im = ax.imshow(
            shown, aspect="auto", cmap="viridis", vmin=0, vmax=vmax, interpolation="none"
        )
        ax.set_title(f"{label}\n{100 * float((a == 0).mean()):.0f} % zeros", fontsize=8)
        ax.set_xlabel("frame")
    axes[0].set_ylabel("channel")
    fig.colorbar(im, ax=axes.tolist(), shrink=0.8, label="activation")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def sweep_figure(rows: list[dict], arms: tuple[str, ...]):
    """MPJPE (mm, 95 % interval) against labelled frames, one line per arm (``arms``: their names,
    in the order of the colours blue, orange). rows: one per arm and labelled set, with ``arm``,
    ``point``, ``labelled_frames`` and ``mpjpe_mm`` {mean, lo, hi}
    (:func:`dilpose.studies.s04_semi.sweep_rows`)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for arm, colour in zip(arms, ("tab:blue", "tab:orange")):
        pts = sorted((r for r in rows if r["arm"] == arm), key=lambda r: r["labelled_frames"])
        if not pts:
            continue
        x = [r["labelled_frames"] for r in pts]
        y = [r["mpjpe_mm"]["mean"] for r in pts]
        err = [
            [r["mpjpe_mm"]["mean"] - r["mpjpe_mm"]["lo"] for r in pts],
            [r["mpjpe_mm"]["hi"] - r["mpjpe_mm"]["mean"] for r in pts],
        ]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=arm, color=colour)
        if arm != arms[0]:
            continue  # the arms share their points: each point is named once, by the first arm
        for r in pts:
            ax.annotate(r["point"], (r["labelled_frames"], r["mpjpe_mm"]["mean"]),
                        textcoords="offset points", xytext=(4, 6), fontsize=8)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("labelled training frames (log scale)")
    ax.set_ylabel("test MPJPE (mm), 95 % interval")
    ax.set_title("MPJPE against labelled data")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def confusion_figure(study: dict[str, dict], names: list[str], classes: list[str], label: str):
    """Confusion matrices (row-normalised, %) of the given classifier inputs, side by side.

    study[name]: ``confusion`` (C, C) counts, true by predicted, and ``accuracy_pct``; classes: the
    C class names; label: what the data is, for the title."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 4.4))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names):
        m = np.asarray(study[name]["confusion"], float)
        m = 100 * m / np.maximum(m.sum(1, keepdims=True), 1)
        ax.imshow(m, cmap="Blues", vmin=0, vmax=100)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(
                    j,
                    i,
                    f"{m[i, j]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if m[i, j] > 60 else "black",
                )
        ax.set_xticks(range(len(classes)), classes, rotation=60, fontsize=7, ha="right")
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name}\naccuracy {study[name]['accuracy_pct']:.1f} %", fontsize=8)
    fig.suptitle(f"{label}: action classifier on the test people (row %)", fontsize=10)
    fig.tight_layout()
    return fig
