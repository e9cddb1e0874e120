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


def window_figure(pair: dict[str, np.ndarray], layout_2d: sk.Skeleton = sk.COCO17, joint: int = 9):
    """One training window and its flipped copy (rows), as the model sees them.

    Left: the 2D input, its centre (or, causal, last) frame drawn as a skeleton and one joint's
    path through the whole window (``joint``, default the left wrist of COCO-17), in normalised
    screen coordinates. Right: the 3D target, root-relative camera-space metres, drawn as the camera
    sees it (x right, y down). ``pair`` is :func:`dilpose.studies.s02_model.window_and_flip`'s dict.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(8, 7.5))
    for row, (x, y, what) in enumerate(
        ((pair["x"], pair["y"], "window"), (pair["x_flip"], pair["y_flip"], "flipped copy"))
    ):
        centre = (len(x) - 1) // 2
        ax = axes[row, 0]
        ax.plot(x[:, joint, 0], x[:, joint, 1], color="0.6", lw=1, label=f"{len(x)} frames")
        draw_2d(ax, x[centre], layout_2d)
        ax.set_title(f"{what}: 2D input, {layout_2d.joint_names[joint]} path", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        ax = axes[row, 1]
        draw_2d(ax, y[:, :2], sk.H36M17)
        ax.set_title(f"{what}: 3D target (x, y in camera space, m)", fontsize=9)
    fig.suptitle(
        "blue = subject's left, red = right. Flipping mirrors x and swaps the left/right labels:\n"
        "each limb takes over its opposite's motion, and left stays left",
        fontsize=10,
    )
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


# ------------------------------------------------------------- notebook 01: one clip, step by step


def _bvh_side(name: str) -> str:
    """Drawing colour of a BVH joint from its name: ``Left...``/``L<Upper>...`` is the subject's
    left, ``Right...``/``R<Upper>...`` the right, anything else the centre."""
    for prefix, colour in (("Left", LEFT), ("Right", RIGHT)):
        if name.startswith(prefix) or (name[:1] == prefix[0] and name[1:2].isupper()):
            return colour
    return CENTRE


def _facing_axes(l_hip: np.ndarray, r_hip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal unit vectors (3,) of a Z-up pose: ``across`` (the subject's right to left hip)
    and ``forward`` (where the subject faces), for front and side views."""
    across = np.array([*(l_hip - r_hip)[:2], 0.0])
    across /= max(np.linalg.norm(across), 1e-9)
    return across, np.cross(across, [0.0, 0.0, 1.0])


def bvh_skeleton(joints: np.ndarray, parents, names, title: str = ""):
    """Front and side views of one frame of a BVH skeleton, joints numbered in file order.

    joints: (J, 3) metres, Z-up world (``dilpose.default_data.to_world`` of forward kinematics);
    parents: (J,) parent index, -1 for the root; names: J joint names (their ``Left``/``Right``
    prefix colours the limbs). Returns the figure."""
    import matplotlib.pyplot as plt

    joints = np.asarray(joints, dtype=np.float64)
    assert joints.ndim == 2 and joints.shape == (len(names), 3), "joints are (J, 3)"
    across, forward = _facing_axes(
        joints[names.index("LeftUpLeg")], joints[names.index("RightUpLeg")]
    )
    centred = joints - joints[0] * [1, 1, 0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 7))
    for ax, (axis, what) in zip(
        axes, ((across, "front (subject's left to the right)"), (forward, "side (facing right)"))
    ):
        xy = np.stack([centred @ axis, centred[:, 2]], -1)
        for j, p in enumerate(parents):
            if p >= 0:
                ax.plot(*xy[[p, j]].T, color=_bvh_side(names[j]), lw=2)
        ax.scatter(*xy.T, s=14, c=[_bvh_side(n) for n in names], zorder=3)
        for j, (x, y) in enumerate(xy):
            ax.annotate(str(j), (x, y), fontsize=7, xytext=(3, 2), textcoords="offset points")
        ax.set_aspect("equal")
        ax.margins(0.15)
        ax.set_xlabel("m")
        ax.set_ylabel("height (m)")
        ax.set_title(f"{what}", fontsize=9)
    fig.suptitle(title or f"{len(names)} BVH joints from forward kinematics (numbers: file order)")
    fig.tight_layout()
    return fig


def _side_view(points: np.ndarray, axis: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(..., 3) Z-up metres -> (..., 2): the distance along the horizontal ``axis`` from ``origin``,
    and the height."""
    points = np.asarray(points, dtype=np.float64) - origin
    return np.stack([points @ axis, points[..., 2]], -1)


def bvh_to_layouts(joints: np.ndarray, parents, names, h36m: np.ndarray, face: np.ndarray):
    """The BVH skeleton (grey) with the 17 joints kept for H36M-17 (coloured, each labelled with its
    BVH joint) and the 5 face points synthesised in the head (green crosses): a front view of the
    body, and a side view of the head that shows the facing direction the face points follow.

    joints: (J, 3) BVH joints; h36m: (17, 3); face: (5, 3); all metres, Z-up world. parents, names:
    the BVH hierarchy (names must include Head and Head_end). Returns the figure."""
    import matplotlib.pyplot as plt

    from .bvh import CMU_TO_H36M

    joints, h36m, face = (np.asarray(a, dtype=np.float64) for a in (joints, h36m, face))
    assert h36m.shape == (17, 3) and face.shape == (5, 3) and joints.shape == (len(names), 3)
    across, forward = _facing_axes(h36m[sk.H36M17.index("l_hip")], h36m[sk.H36M17.index("r_hip")])
    origin = h36m[0] * [1, 1, 0]
    head = [names.index("Head"), names.index("Head_end")]
    fig, (body, side) = plt.subplots(1, 2, figsize=(12, 7), gridspec_kw={"width_ratios": [3, 2]})
    for ax, axis in ((body, across), (side, forward)):
        xy = _side_view(joints, axis, origin)
        for j, p in enumerate(parents):
            if p >= 0:
                ax.plot(*xy[[p, j]].T, color="0.82", lw=6, zorder=1, solid_capstyle="round")
        ax.scatter(
            *_side_view(face, axis, origin).T,
            marker="x",
            s=45,
            color="tab:green",
            zorder=4,
            label="face points (synthesised)",
        )
        ax.set_aspect("equal")
        ax.set_xlabel("m")
        ax.set_ylabel("height (m)")
    # Front: the H36M-17 skeleton over the BVH one, each joint named with its source.
    h36m_xy = _side_view(h36m, across, origin)
    draw_2d(body, h36m_xy, sk.H36M17, invert_y=False)
    for j, (x, y) in enumerate(h36m_xy):
        right = j in sk.H36M17.joints_right  # right-side labels go left, as in draw_2d
        body.annotate(
            f"{j} {sk.H36M17.joint_names[j]} <- {CMU_TO_H36M[j]}",
            (x, y),
            fontsize=7,
            xytext=(-5 if right else 5, 2),
            textcoords="offset points",
            ha="right" if right else "left",
        )
    body.margins(x=0.6, y=0.08)
    body.set_title("front: H36M-17 joint <- BVH joint (grey: all BVH bones)", fontsize=9)
    body.legend(fontsize=8, loc="lower right")
    # Side: the head segment and the face points around it.
    head_xy = _side_view(joints[head], forward, origin)
    side.plot(*head_xy.T, color="0.3", lw=2, zorder=2)
    side.scatter(*head_xy.T, s=30, color="0.3", zorder=3)
    for name, (x, y) in zip(("Head", "Head_end"), head_xy):
        side.annotate(name, (x, y), fontsize=8, xytext=(6, -12), textcoords="offset points")
    for name, (x, y) in zip(sk.FACE_POINTS, _side_view(face, forward, origin)):
        side.annotate(name, (x, y), fontsize=8, xytext=(5, 3), textcoords="offset points")
    mid, h = head_xy.mean(0), np.linalg.norm(head_xy[1] - head_xy[0])
    side.set_xlim(mid[0] - 1.8 * h, mid[0] + 1.8 * h)
    side.set_ylim(mid[1] - 1.8 * h, mid[1] + 1.8 * h)
    side.set_title("the head from the side (facing right)", fontsize=9)
    fig.tight_layout()
    return fig


def capture_volume_top_view(
    cameras, centre: np.ndarray, pelvis_before: np.ndarray, pelvis_after: np.ndarray
):
    """Top view (world x, y in metres) of the placement step: each camera's centre and optical
    axis, the volume centre where the axes meet, and the clip's pelvis track before (as the BVH
    file has it) and after the shift; left the whole room, right a close-up of the shift.
    centre: (3,); pelvis_before, pelvis_after: (T, 2) m."""
    import matplotlib.pyplot as plt

    centre = np.asarray(centre, dtype=np.float64)
    before, after = np.asarray(pelvis_before), np.asarray(pelvis_after)
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.5))
    for ax in axes:
        for i, cam in enumerate(cameras):
            p, d = cam.position(), cam.optical_axis()
            reach = np.linalg.norm((centre - p)[:2]) * 1.3 / max(np.linalg.norm(d[:2]), 1e-9)
            ax.plot(*np.stack([p[:2], p[:2] + reach * d[:2]]).T, color="tab:green", lw=1, ls="--")
            ax.scatter(*p[:2], s=60, color="k", marker="s")
            ax.annotate(f"cam {i}", p[:2], fontsize=8, xytext=(6, 6), textcoords="offset points")
        ax.plot(*before.T, color="0.55", ls=":", lw=2, label="pelvis, as in the BVH file")
        ax.plot(*after.T, color="tab:blue", lw=2, label="pelvis, placed")
        ax.annotate(
            "",
            after.mean(0),
            before.mean(0),
            arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.5, shrinkA=0, shrinkB=0),
        )
        ax.scatter(*centre[:2], marker="*", s=220, color="tab:red", zorder=4, label="volume centre")
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        ax.grid(alpha=0.3)
    both = np.concatenate([before, after, centre[None, :2]])
    mid, half = (both.min(0) + both.max(0)) / 2, np.ptp(both, axis=0).max() / 2 + 0.4
    axes[1].set_xlim(mid[0] - half, mid[0] + half)
    axes[1].set_ylim(mid[1] - half, mid[1] + half)
    axes[1].legend(fontsize=8, loc="lower right")
    axes[0].set_title("the room: cameras and their optical axes (dashed)", fontsize=9)
    axes[1].set_title("close-up: the shift (red arrow) moves the mean pelvis position", fontsize=9)
    fig.tight_layout()
    return fig


def distortion_figure(step: dict, magnify: float = 10.0):
    """One camera's lens distortion: over the whole image (left: where the distortion moves the
    ideal pinhole pixels, arrows ``magnify`` times longer) and on the pose (right, zoomed: the
    pinhole projection grey, the distorted one in colour). ``step``:
    :func:`dilpose.studies.s01_data.projection_step`'s dict (pixels)."""
    import matplotlib.pyplot as plt

    cam, layout = step["camera"], step["layout"]
    pin, dist = step["pinhole"], step["distorted"]
    grid, moved = step["field"]
    fig, (whole, zoom) = plt.subplots(1, 2, figsize=(12, 6))
    d = (moved - grid) * magnify
    whole.quiver(
        *grid.T, *d.T, angles="xy", scale_units="xy", scale=1, color="tab:purple", width=0.004
    )
    lo, hi = pin.min(0), pin.max(0)
    whole.add_patch(plt.Rectangle(lo, *(hi - lo), fill=False, color="tab:blue", lw=1.5))
    whole.set_xlim(-0.1 * cam.res_w, 1.1 * cam.res_w)
    whole.set_ylim(1.1 * cam.res_h, -0.1 * cam.res_h)
    whole.add_patch(plt.Rectangle((0, 0), cam.res_w, cam.res_h, fill=False, color="k", lw=1))
    whole.set_aspect("equal")
    whole.set_title(
        f"cam {step['index']} ({cam.id}): distortion over the image, arrows "
        f"x{magnify:g}; blue box: the person",
        fontsize=9,
    )
    draw_2d(zoom, pin, layout, alpha=0.35, lw=4)
    draw_2d(zoom, dist, layout, lw=1.2, marker_size=8)
    zoom.quiver(
        *pin.T,
        *((dist - pin) * magnify).T,
        angles="xy",
        scale_units="xy",
        scale=1,
        color="tab:purple",
        width=0.004,
    )
    mid, half = (lo + hi) / 2, (hi - lo).max() / 2 + 20
    zoom.set_xlim(mid[0] - half, mid[0] + half)
    zoom.set_ylim(mid[1] + half, mid[1] - half)
    zoom.set_title(
        f"the pose: pinhole (thick, faint) vs distorted (thin); arrows x{magnify:g}; "
        f"largest shift {step['shift_px'].max():.1f} px",
        fontsize=9,
    )
    for ax in (whole, zoom):
        ax.set_xlabel("u (px)")
        ax.set_ylabel("v (px)")
    fig.tight_layout()
    return fig


#: Colours of the detector-noise events in figures.
NOISE_EVENT_COLOURS = {"outlier": "tab:orange", "swapped": "tab:purple", "missing": "0.5"}


def noise_events_figure(trace: dict):
    """One joint's 2D track over time in one camera, clean (black) and as the detector-noise model
    outputs it (blue; gaps where missed), with each event's frames shaded; the bottom panel is
    the 2D error (px) against the jitter's standard deviation. ``trace``:
    :func:`dilpose.studies.s01_data.noise_trace`'s dict."""
    import matplotlib.pyplot as plt

    clean, detected = trace["clean"], trace["detected"]
    t = np.arange(len(clean)) / trace["fps"]
    err = np.linalg.norm(detected - clean, axis=-1)
    fig, axes = plt.subplots(3, 1, figsize=(11, 7.5), sharex=True)
    for ax, values, label in (
        (axes[0], (clean[:, 0], detected[:, 0]), "u (px)"),
        (axes[1], (clean[:, 1], detected[:, 1]), "v (px, down)"),
        (axes[2], (None, err), "2D error (px)"),
    ):
        if values[0] is not None:
            ax.plot(t, values[0], color="k", lw=1, label="clean projection")
        ax.plot(t, values[1], color="tab:blue", lw=1, label="detector output")
        for kind, colour in NOISE_EVENT_COLOURS.items():
            mask = trace["events"][kind]
            ax.fill_between(
                t,
                0,
                1,
                where=mask,
                color=colour,
                alpha=0.3,
                step="mid",
                transform=ax.get_xaxis_transform(),
                label=f"{kind} ({mask.sum()} fr.)",
            )
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[2].plot(t, trace["sigma"], color="tab:green", lw=1, ls="--", label="jitter sigma")
    axes[2].set_yscale("symlog", linthresh=5)
    axes[1].invert_yaxis()
    axes[0].legend(fontsize=8, ncol=5, loc="upper left", bbox_to_anchor=(0, 1.3))
    axes[2].legend(fontsize=8, ncol=2, loc="upper left", handles=axes[2].get_lines())
    axes[2].set_xlabel("time (s)")
    fig.suptitle(f"{trace['joint']} in camera {trace['camera']} ({trace['camera_id']})", y=1.02)
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
