"""Pictures of where the poses are filmed: the cameras around a capture volume, the volume from
above, what lens distortion does to the image, where the simulated detector fails, and the smart
shop with its shelves and cameras. Functions return figures; saving goes through
:mod:`dilpose.report`.

matplotlib is imported lazily and no backend is forced, so importing this module has no effect on
a notebook's inline plotting.
"""

from __future__ import annotations

import numpy as np

from . import skeleton as sk
from .datasets.shop_scene import BOARDS, SHELVES
from .viz import draw_2d, edges_of, side_colour


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
            ax.plot(*pose_world[[a, b]].T, color=side_colour(layout, b), lw=2)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    pts = np.array([cam.position() for cam in cameras])
    # true proportions
    ax.set_box_aspect(tuple(np.ptp(np.vstack([pts, [[0, 0, 0]]]), axis=0) + 0.5))
    ax.set_zticks([0, 1, 2])
    ax.set_title("Human3.6M camera layout (world frame, metres)")
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


def _box_edges(lo, hi):
    x0, y0, z0 = lo
    x1, y1, z1 = hi
    c = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
    return [(c[i], c[j]) for i in range(8) for j in range(i + 1, 8) if np.sum(c[i] != c[j]) == 1]


def shop_figure(data, subject: str, take: str, label: str):
    """3D figure of the shop: shelves (with their boards), the four cameras and their viewing
    directions, and one person's path through a take with the pose in its middle frame.

    data: the shop's PoseData (cameras and world metres, Z up); label: what the data is, for the
    title."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9, 6.5))
    ax = fig.add_subplot(111, projection="3d")
    for shelf in SHELVES:
        for a, b in _box_edges(shelf.lo, shelf.hi):
            ax.plot(*np.stack([a, b]).T, color="0.45", lw=1)
        for z in BOARDS:
            xs = [shelf.lo[0], shelf.hi[0], shelf.hi[0], shelf.lo[0], shelf.lo[0]]
            ys = [shelf.lo[1], shelf.lo[1], shelf.hi[1], shelf.hi[1], shelf.lo[1]]
            ax.plot(xs, ys, [z] * 5, color="tan", lw=0.8)
    for k, cam in enumerate(data.cameras[subject]):
        p, d = cam.position(), cam.optical_axis()
        ax.scatter(*p, color="k", s=30)
        ax.plot(*np.stack([p, p + 1.5 * d]).T, color="k", lw=1)
        ax.text(*(p + [0, 0, 0.15]), f"camera {k + 1}", fontsize=8)
    pos = data.positions_3d[subject][take]
    ax.plot(pos[:, 0, 0], pos[:, 0, 1], np.zeros(len(pos)), color="tab:green", lw=2)
    t = len(pos) // 2
    for p_, c in sk.H36M17.bones():
        ax.plot(
            *pos[t, [p_, c]].T,
            color="tab:red"
            if c in sk.H36M17.joints_right
            else "tab:blue"
            if c in sk.H36M17.joints_left
            else "0.3",
            lw=2,
        )
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    ax.set_box_aspect((10, 6, 3.5))
    ax.view_init(elev=28, azim=-60)
    ax.set_title(
        f"{label}: shelves, cameras, and {subject}'s path in '{take}' (green)", fontsize=10
    )
    return fig
