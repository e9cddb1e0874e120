"""Pictures of poses: skeleton diagrams, 2D drawings, multi-view projections, an interactive plotly
3D skeleton, a BVH skeleton and its conversion, and the figures that show one pose through a model
(a prediction beside the truth, a reprojection, the shop's scenarios seen by its cameras).
Functions return figures; saving goes through :mod:`dilpose.report`.

Cameras, capture volumes and the shop are drawn by :mod:`dilpose.viz_scene`; charts of results
(curves, bars, heatmaps, confusion matrices) by :mod:`dilpose.viz_plots`.

matplotlib is imported lazily and no backend is forced, so importing this module has no effect on
a notebook's inline plotting.
"""

from __future__ import annotations

import numpy as np

from . import skeleton as sk
from .kinematics import CMU_TO_H36M

# One colour convention for every figure of the series (matplotlib, plotly and the explorer):
# limbs by side, and ground truth against prediction.
LEFT, RIGHT, CENTRE = "#1f77b4", "#d62728", "#333333"
GT_COLOUR, PRED_COLOUR = "#7f7f7f", "#ff7f0e"
#: Below this detector score a 2D joint is drawn as low-confidence (the lifter's own threshold).
LOW_CONFIDENCE = 0.3


def side_colour(layout: sk.Skeleton, j: int) -> str:
    """The colour of joint ``j``'s limb: left, right or the centre line."""
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
            side_colour(layout, b) if side_colour(layout, a) == side_colour(layout, b) else CENTRE
        )
        ax.plot(kp[[a, b], 0], kp[[a, b], 1], color=colour, lw=lw, alpha=alpha)
    ax.scatter(
        kp[:, 0],
        kp[:, 1],
        s=marker_size,
        c=[side_colour(layout, j) for j in range(len(kp))],
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


def multi_view(views, frame: int, title: str = ""):
    """One frame of a clip in every camera: the clean projection (top row) and the detector output
    drawn over the faint clean pose (bottom row). ``views``: a
    :class:`dilpose.datasets.ExampleViews`."""
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

    # with others (a prediction), the first pose is the ground truth: grey, as everywhere
    series = {("ground truth" if others else "pose"): positions, **(others or {})}
    colours = [GT_COLOUR if others else LEFT, PRED_COLOUR, "#2ca02c", "#9467bd"]
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
        **_player(frames_idx, fps, step),
    )
    return fig


def _player(frames_idx: list[int], fps: float, step: int) -> dict:
    """The play/pause buttons and the time slider of :func:`plotly_skeleton`'s animation (layout
    properties ``updatemenus`` and ``sliders``); frames named by their index, ``step`` apart."""
    play = dict(frame=dict(duration=1000 * step / fps, redraw=True), fromcurrent=True)
    buttons = [
        dict(label="play", method="animate", args=[None, play]),
        dict(label="pause", method="animate", args=[[None], dict(mode="immediate")]),
    ]
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True))
    steps = [
        dict(label=f"{t / fps:.1f}s", method="animate", args=[[str(t)], jump]) for t in frames_idx
    ]
    return {
        "updatemenus": [dict(type="buttons", showactive=False, x=0.05, y=0.05, buttons=buttons)],
        "sliders": [dict(x=0.15, len=0.8, steps=steps)],
    }


def pose_comparison(
    target: np.ndarray,
    prediction: np.ndarray | None,
    frames: list[int],
    layout: sk.Skeleton = sk.H36M17,
    title: str = "",
):
    """Static 3D panels of ground truth (grey) and prediction (limbs coloured by side) at a few
    frames; (T, J, 3) metres, Z up. With ``prediction`` None, the ground truth alone, coloured by
    side: the static twin of :func:`plotly_skeleton`, which GitHub and nbviewer cannot draw."""
    if prediction is None:
        return _pose_panels(target, frames, layout, title)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3.3 * len(frames), 3.6))
    for k, t in enumerate(frames):
        ax = fig.add_subplot(1, len(frames), k + 1, projection="3d")
        gt, pr = target[t] - target[t, :1], prediction[t] - target[t, :1]
        for a, b in edges_of(layout):
            ax.plot(*gt[[a, b]].T, color="0.55", lw=2)
            ax.plot(*pr[[a, b]].T, color=side_colour(layout, b), lw=1.5)
        _root_centred_axes(ax)
        err = 1000 * np.linalg.norm(gt - (prediction[t] - prediction[t, :1]), axis=-1).mean()
        ax.set_title(f"frame {t}: {err:.0f} mm", fontsize=9)
    fig.suptitle(
        title + "  (grey: ground truth; prediction: blue left, red right limbs)", fontsize=10
    )
    fig.tight_layout()
    return fig


def _root_centred_axes(ax) -> None:
    """A 3D panel's box for one root-centred skeleton: metres, Z up, labelled axes."""
    ax.set_xlim(-0.9, 0.9)
    ax.set_ylim(-0.9, 0.9)
    ax.set_zlim(-1.0, 0.8)
    ax.set_box_aspect((1, 1, 1))
    ax.tick_params(labelsize=8)
    ax.set_xlabel("x (m)", fontsize=8)
    ax.set_ylabel("y (m)", fontsize=8)
    ax.set_zlabel("z, up (m)", fontsize=8)


def _pose_panels(positions: np.ndarray, frames: list[int], layout: sk.Skeleton, title: str):
    """One skeleton at a few frames, limbs coloured by side, each panel centred on its root."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3.3 * len(frames), 3.6))
    for k, t in enumerate(frames):
        ax = fig.add_subplot(1, len(frames), k + 1, projection="3d")
        p = positions[t] - positions[t, :1]
        for a, b in edges_of(layout):
            ax.plot(*p[[a, b]].T, color=side_colour(layout, b), lw=2)
        _root_centred_axes(ax)
        ax.set_title(f"frame {t}", fontsize=9)
    fig.suptitle(title + "  (limbs: blue left, red right)", fontsize=10)
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

    joints: (J, 3) metres, Z-up world (``dilpose.datasets.mocap_import.to_world`` of forward
    kinematics); parents: (J,) parent index, -1 for the root; names: J joint names (their
    ``Left``/``Right`` prefix colours the limbs). Returns the figure."""
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


def reprojection_figure(example: dict):
    """2D in -> 3D + trajectory (seen from above: depth against x) -> reprojected 2D beside the
    detections, for each arm."""
    import matplotlib.pyplot as plt

    arms = list(example["arms"])
    fig, axes = plt.subplots(1, 2 + len(arms), figsize=(4.0 * (2 + len(arms)), 4.2))
    layout = example["layout_2d"]
    det = example["detections"]
    draw_2d(axes[0], det, layout)
    axes[0].set_title("2D input (detections)")
    ax = axes[1]
    truth = example["truth_3d"]
    ax.scatter(truth[:, 0], truth[:, 2], c="k", s=12, label="truth (not seen in training)")
    for arm, colour in zip(arms, ("tab:blue", "tab:orange")):
        p = example["arms"][arm]["pose_3d"]
        ax.scatter(p[:, 0], p[:, 2], s=12, color=colour, label=arm)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("depth z (m)")
    ax.set_title("3D + trajectory, from above")
    ax.legend(fontsize=7)
    for ax, arm, colour in zip(axes[2:], arms, ("tab:blue", "tab:orange")):
        e = example["arms"][arm]
        draw_2d(ax, det, layout, alpha=0.35)
        draw_2d(ax, e["reprojection"], sk.H36M17)
        ax.set_title(f"{arm}: reprojection\n{e['error_px']:.1f} px from the detections")
    fig.suptitle(
        f"{example['subject']} · {example['action']} · camera {example['camera']}, frame "
        f"{example['frame']} (an unlabelled clip)"
    )
    fig.tight_layout()
    return fig


def scenario_views_figure(data, subject: str, takes: dict, label: str, cameras=(0, 2)):
    """One frame of each scenario (rows) seen from two cameras (columns): the detector's COCO-17
    output (missed joints, score 0, as interpolated and drawn with a cross; joints with a score
    under 0.5, mostly occluded by a shelf, hollow) over the ground truth projected (grey).

    data: the shop's PoseData; takes: ``{action: (take, frame)}`` (one row each, e.g.
    :func:`dilpose.studies.s06_shop.example_takes`); label: what the data is, for the title."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(takes), len(cameras), figsize=(4.2 * len(cameras), 2.9 * len(takes))
    )
    for r, (action, (key, t)) in enumerate(takes.items()):
        for k, c in enumerate(cameras):
            ax = axes[r, k]
            cam = data.cameras[subject][c]
            gt = cam.project(data.positions_3d[subject][key][t])
            for a, b in sk.H36M17.bones():
                ax.plot(gt[[a, b], 0], gt[[a, b], 1], color="0.75", lw=4)
            kp = data.keypoints[subject][key][c][t]
            sc = data.scores[subject][key][c][t]
            draw_2d(ax, kp, sk.COCO17, lw=1.5, marker_size=8)
            low = (sc > 0) & (sc < LOW_CONFIDENCE)
            ax.scatter(kp[low, 0], kp[low, 1], s=60, facecolors="none", edgecolors="k", lw=1)
            ax.scatter(kp[sc == 0, 0], kp[sc == 0, 1], s=50, marker="x", color="k")
            pad = 60
            ax.set_xlim(
                min(kp[:, 0].min(), gt[:, 0].min()) - pad, max(kp[:, 0].max(), gt[:, 0].max()) + pad
            )
            ax.set_ylim(
                max(kp[:, 1].max(), gt[:, 1].max()) + pad, min(kp[:, 1].min(), gt[:, 1].min()) - pad
            )
            ax.set_title(f"{action} · camera {c + 1} · frame {t}", fontsize=9)
            ax.tick_params(labelsize=8)
    fig.suptitle(
        f"{label}: {subject}, one frame per scenario (grey: truth; x: missed; "
        f"o: score < {LOW_CONFIDENCE})",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))  # room for the title above the first row's titles
    return fig
