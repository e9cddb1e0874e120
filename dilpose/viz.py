"""Figures: skeleton diagrams, the camera layout, multi-view projections and an interactive plotly
3D skeleton. Functions return figures; saving goes through :mod:`dilpose.report`.

matplotlib is imported lazily and no backend is forced, so importing this module has no effect on
a notebook's inline plotting.
"""

from __future__ import annotations

import numpy as np

from . import skeleton as sk
from .batches import receptive_field

LEFT, RIGHT, CENTRE = "#1f77b4", "#d62728", "#333333"


def _side_colour(layout: sk.Skeleton, j: int) -> str:
    return LEFT if j in layout.joints_left else RIGHT if j in layout.joints_right else CENTRE


def edges_of(layout: sk.Skeleton) -> list[tuple[int, int]]:
    """Drawing edges: COCO's official limb list for COCO-17, parent->child bones otherwise."""
    return list(sk.COCO_EDGES) if layout is sk.COCO17 else layout.bones()


def draw_2d(
    ax,
    kp: np.ndarray,
    layout: sk.Skeleton,
    label: bool = False,
    alpha: float = 1.0,
    lw: float = 2.0,
    invert_y: bool = True,
    marker_size: float = 12,
) -> None:
    """Draw one pose (J, 2) on a matplotlib axis; left limbs blue, right red, centre grey.

    NaN joints (missed detections) are left out together with their limbs.
    """
    assert kp.shape == (layout.num_joints, 2), f"expected ({layout.num_joints}, 2), got {kp.shape}"
    for a, b in edges_of(layout):
        colour = (
            _side_colour(layout, b)
            if _side_colour(layout, a) == _side_colour(layout, b)
            else CENTRE
        )
        ax.plot(kp[[a, b], 0], kp[[a, b], 1], color=colour, lw=lw, alpha=alpha)
    ax.scatter(
        kp[:, 0],
        kp[:, 1],
        s=marker_size,
        c=[_side_colour(layout, j) for j in range(len(kp))],
        alpha=alpha,
        zorder=3,
    )
    if label:
        for j, (x, y) in enumerate(kp):
            # Right-side labels go left of their joint, the others right, so that they rarely
            # overlap.
            right = j in layout.joints_right
            ax.annotate(
                f"{j} {layout.joint_names[j]}",
                (x, y),
                fontsize=7,
                xytext=(-4 if right else 4, 2),
                textcoords="offset points",
                ha="right" if right else "left",
            )
    ax.set_aspect("equal")
    if invert_y and not ax.yaxis_inverted():
        ax.invert_yaxis()


def front_view(pose: np.ndarray, layout: sk.Skeleton) -> np.ndarray:
    """(J, 3) world metres, Z up -> (J, 2) seen from in front of the person (viewer's x, height).

    The pose is turned about the vertical so that its hips line up with the viewer's x axis, the
    subject's left on the viewer's right, as when facing someone.
    """
    hips = (layout.index("l_hip"), layout.index("r_hip"))
    across = pose[hips[0], :2] - pose[hips[1], :2]
    yaw = np.arctan2(across[1], across[0])
    c, s = np.cos(-yaw), np.sin(-yaw)
    centred = pose[:, :2] - pose[list(hips)].mean(0)[:2]
    x = c * centred[:, 0] - s * centred[:, 1]
    return np.stack([x, pose[:, 2]], -1)


def skeleton_diagrams(h36m_3d: np.ndarray, coco_3d: np.ndarray | None = None):
    """Front views of one frame in both layouts, joints numbered. Inputs (17, 3) world metres,
    Z up."""
    import matplotlib.pyplot as plt

    panels = [(h36m_3d, sk.H36M17)] + ([(coco_3d, sk.COCO17)] if coco_3d is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 7), squeeze=False)
    for ax, (pose, layout) in zip(axes[0], panels):
        draw_2d(ax, front_view(pose, layout), layout, label=True, invert_y=False)
        ax.set_title(
            f"{layout.name}: {layout.num_joints} joints\n(blue = subject's left, red = right)"
        )
        ax.set_xlabel("m")
        ax.set_ylabel("height (m)")
        ax.margins(x=0.35)
    fig.tight_layout()
    return fig


def camera_layout(
    cameras,
    pose_world: np.ndarray | None = None,
    layout: sk.Skeleton = sk.H36M17,
    axis_length: float = 1.5,
):
    """3D plot of camera centres and viewing directions (world metres, Z up), with an optional
    pose."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9, 7))
    ax = fig.add_subplot(projection="3d")
    ax.view_init(elev=28, azim=-55)
    for i, cam in enumerate(cameras):
        p, d = cam.position(), cam.optical_axis()
        ax.scatter(*p, s=40, color="k")
        ax.quiver(*p, *(d * axis_length), color="tab:green")
        ax.text(*p, f"  cam {i} ({cam.id})", fontsize=8)
    if pose_world is not None:
        for a, b in edges_of(layout):
            ax.plot(*pose_world[[a, b]].T, color=_side_colour(layout, b), lw=2)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    pts = np.array([cam.position() for cam in cameras])
    # true proportions
    ax.set_box_aspect(tuple(np.ptp(np.vstack([pts, [[0, 0, 0]]]), axis=0) + 0.5))
    ax.set_zticks([0, 1, 2])
    ax.set_title("Human3.6M camera layout (world frame, metres)")
    return fig


def multi_view(views, frame: int, title: str = ""):
    """One frame of a clip in every camera: the clean projection (top row) and the detector output
    drawn over the faint clean pose (bottom row). ``views``: a
    :class:`dilpose.dataset.ExampleViews`."""
    import matplotlib.pyplot as plt

    cams = views.cameras
    fig, axes = plt.subplots(2, len(cams), figsize=(3.2 * len(cams), 6.8), squeeze=False)
    for c, cam in enumerate(cams):
        clean, detected = views.clean[c][frame], views.detected[c][frame]
        draw_2d(axes[0, c], clean, views.clean_layout)
        draw_2d(axes[1, c], clean, views.clean_layout, alpha=0.25)
        seen = np.isfinite(detected).all(-1)
        draw_2d(axes[1, c], detected, views.detected_layout)
        if not seen.all():
            missed = [views.detected_layout.joint_names[j] for j in np.flatnonzero(~seen)]
            axes[1, c].text(
                0.02,
                0.02,
                "missed: " + ", ".join(missed),
                transform=axes[1, c].transAxes,
                fontsize=7,
            )
        axes[0, c].set_xlim(0, cam.res_w)
        axes[0, c].set_ylim(cam.res_h, 0)
        # Zoom the bottom row on the person: detector errors are a few pixels.
        lo, hi = clean.min(0) - 40, clean.max(0) + 40
        half = (hi - lo).max() / 2
        mid = (lo + hi) / 2
        axes[1, c].set_xlim(mid[0] - half, mid[0] + half)
        axes[1, c].set_ylim(mid[1] + half, mid[1] - half)
        for r, what in enumerate(("clean projection (full image)", "detector output (zoomed)")):
            axes[r, c].set_title(f"cam {c}: {what}", fontsize=8)
            axes[r, c].tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plotly_skeleton(
    positions: np.ndarray,
    layout: sk.Skeleton = sk.H36M17,
    fps: float = 50.0,
    step: int = 5,
    title: str = "",
    others: dict[str, np.ndarray] | None = None,
):
    """An interactive 3D skeleton with a play button and a frame slider.

    positions: (T, J, 3) metres, Z up. ``others`` adds more poses of the same shape (e.g. a
    prediction beside the ground truth). ``step`` keeps every k-th frame to keep the figure small.
    """
    import plotly.graph_objects as go

    series = {"pose": positions, **(others or {})}
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]
    edges = edges_of(layout)

    def traces(t: int):
        out = []
        for k, (name, pos) in enumerate(series.items()):
            xs, ys, zs = [], [], []
            for a, b in edges:
                for v in (pos[t, a], pos[t, b], (np.nan,) * 3):
                    xs.append(v[0]), ys.append(v[1]), zs.append(v[2])
            out.append(
                go.Scatter3d(
                    x=xs,
                    y=ys,
                    z=zs,
                    mode="lines+markers",
                    name=name,
                    line=dict(color=colours[k % len(colours)], width=5),
                    marker=dict(size=2),
                )
            )
        return out

    frames_idx = list(range(0, len(positions), step))
    allpos = np.concatenate([p.reshape(-1, 3) for p in series.values()])
    lo, hi = allpos.min(0), allpos.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 + 0.1
    fig = go.Figure(
        data=traces(0), frames=[go.Frame(data=traces(t), name=str(t)) for t in frames_idx]
    )
    fig.update_layout(
        title=title,
        height=560,
        margin=dict(l=0, r=0, t=40, b=0),
        scene=dict(
            aspectmode="cube",
            xaxis=dict(range=[centre[0] - half, centre[0] + half], title="x (m)"),
            yaxis=dict(range=[centre[1] - half, centre[1] + half], title="y (m)"),
            zaxis=dict(range=[centre[2] - half, centre[2] + half], title="z (m)"),
        ),
        updatemenus=[
            dict(
                type="buttons",
                showactive=False,
                x=0.05,
                y=0.05,
                buttons=[
                    dict(
                        label="play",
                        method="animate",
                        args=[
                            None,
                            dict(
                                frame=dict(duration=1000 * step / fps, redraw=True),
                                fromcurrent=True,
                            ),
                        ],
                    ),
                    dict(label="pause", method="animate", args=[[None], dict(mode="immediate")]),
                ],
            )
        ],
        sliders=[
            dict(
                x=0.15,
                len=0.8,
                steps=[
                    dict(
                        label=f"{t / fps:.1f}s",
                        method="animate",
                        args=[
                            [str(t)],
                            dict(mode="immediate", frame=dict(duration=0, redraw=True)),
                        ],
                    )
                    for t in frames_idx
                ],
            )
        ],
    )
    return fig


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


def pose_comparison(
    target: np.ndarray,
    prediction: np.ndarray,
    frames: list[int],
    layout: sk.Skeleton = sk.H36M17,
    title: str = "",
):
    """Static 3D panels of ground truth (grey) and prediction (colour) at a few frames; (T, J, 3)
    metres."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3.3 * len(frames), 3.6))
    for k, t in enumerate(frames):
        ax = fig.add_subplot(1, len(frames), k + 1, projection="3d")
        gt, pr = target[t] - target[t, :1], prediction[t] - target[t, :1]
        for a, b in edges_of(layout):
            ax.plot(*gt[[a, b]].T, color="0.55", lw=2)
            ax.plot(*pr[[a, b]].T, color=_side_colour(layout, b), lw=1.5)
        ax.set_xlim(-0.9, 0.9)
        ax.set_ylim(-0.9, 0.9)
        ax.set_zlim(-1.0, 0.8)
        ax.set_box_aspect((1, 1, 1))
        ax.tick_params(labelsize=6)
        err = 1000 * np.linalg.norm(gt - (prediction[t] - prediction[t, :1]), axis=-1).mean()
        ax.set_title(f"frame {t}: {err:.0f} mm", fontsize=9)
    fig.suptitle(title + "  (grey: ground truth, colour: prediction)", fontsize=10)
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
