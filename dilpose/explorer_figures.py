"""The skeleton explorer's figure: one plotly figure with 12 traces (3D view, the camera's 2D view,
the error curve), and the updates that show one frame or one clip in it.

:func:`empty_figure` builds the traces once; :func:`frame_update` and :func:`clip_update` say what
changes (``{trace index: {property: value}}``), so that moving the slider restyles the existing
traces with one frame's data in one message: the browser never holds more than one frame of
joints, however long the clip. The clips are :mod:`dilpose.explorer_data`, the widget
:mod:`dilpose.explorer`.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import skeleton as sk
from .explorer_data import LOW_SCORE, Clip
from .viz import GT_COLOUR, PRED_COLOUR, edges_of

#: The colour scale of the per-joint error, mm: its darkest at 0, its lightest at and beyond this.
ERROR_SCALE_MM = 150.0
#: The per-joint error's colours: cividis (perceptually ordered, colour-blind safe), not red-green.
ERROR_COLOURSCALE = "Cividis"
#: The error curve keeps at most this many points (a per-bin maximum, so peaks stay visible).
CURVE_POINTS = 2000

DET_COLOUR = "#1f77b4"
MISSED_COLOUR, LOW_COLOUR = "#d62728", "#9467bd"


# --------------------------------------------------------------------------------------------------
# Figure: trace data for one frame
# --------------------------------------------------------------------------------------------------
def _edges(layout: sk.Skeleton) -> np.ndarray:
    """(E*3,) indices into a pose with a NaN row appended: a, b, gap for each limb."""

    J = layout.num_joints
    return np.array([[a, b, J] for a, b in edges_of(layout)], dtype=int).ravel()


def _lines(pose: np.ndarray, layout: sk.Skeleton) -> np.ndarray:
    """(J, D) -> (E*3, D): the limb segments separated by NaN, for one line trace."""
    padded = np.vstack([pose, np.full((1, pose.shape[1]), np.nan)])
    return padded[_edges(layout)]


def _curve(values: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(T,) -> frame numbers and values, at most ``points`` of them (each bin's maximum)."""
    T = len(values)
    if T <= points:
        return np.arange(T), values
    bins = np.array_split(np.arange(T), points)
    return np.array([b[np.argmax(values[b])] for b in bins]), np.array(
        [values[b].max() for b in bins]
    )


# trace indices of the figure
T_GT_BONES, T_GT_JOINTS, T_PRED_BONES, T_PRED_JOINTS = 0, 1, 2, 3
T_CLEAN, T_DET_BONES, T_DET_JOINTS, T_MISSED, T_LOW = 4, 5, 6, 7, 8
T_CURVE, T_CURSOR = 9, 10
T_FLOOR = 11  # drawn last, in the 3D view

#: The 3D view's default camera, and the chosen camera's own viewpoint: the display is camera
#: space turned Z-up (x right, y the depth away from the camera, z up), so the camera looks along
#: +y from in front of the root-centred skeleton.
DEFAULT_EYE = dict(eye=dict(x=1.4, y=-1.4, z=0.6), up=dict(x=0, y=0, z=1))
CAMERA_EYE = dict(eye=dict(x=0.0, y=-2.0, z=0.0), up=dict(x=0, y=0, z=1))


def empty_figure():
    """The explorer's figure with its 12 traces (all empty): 3D view left, the camera's 2D view top
    right, the error curve bottom right. Traces are added in the order of the ``T_*`` indices."""
    fig = make_subplots(
        rows=2,
        cols=2,
        column_widths=[0.6, 0.4],
        row_heights=[0.62, 0.38],
        specs=[[{"type": "scene", "rowspan": 2}, {"type": "xy"}], [None, {"type": "xy"}]],
        horizontal_spacing=0.06,
        vertical_spacing=0.12,
        subplot_titles=("", CAMERA_VIEW_TITLE, "MPJPE per frame (mm)"),
    )
    for trace in _traces_3d():
        fig.add_trace(trace, 1, 1)
    for trace in _traces_2d():
        fig.add_trace(trace, 1, 2)
    for trace in _traces_curve():
        fig.add_trace(trace, 2, 2)
    fig.add_trace(  # the floor: a grey square under the lowest joint of the clip
        go.Mesh3d(name="floor", x=[], y=[], z=[], i=[0, 0], j=[1, 2], k=[2, 3], color="#dddddd",
                  opacity=0.5, hoverinfo="skip", showlegend=False),
        1, 1,
    )  # fmt: skip
    fig.update_layout(
        height=620,
        margin=dict(l=10, r=10, t=90, b=10),
        title=dict(y=0.98, x=0.01, font=dict(size=15)),
        legend=dict(orientation="h", x=0, y=1.1, font=dict(size=11)),
        scene=dict(aspectmode="cube", uirevision="keep", camera=DEFAULT_EYE),
        uirevision="keep",
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", row=1, col=2)
    fig.update_xaxes(title_text="frame", row=2, col=2)
    return fig


def _traces_3d() -> list:
    """T_GT_BONES, T_GT_JOINTS, T_PRED_BONES, T_PRED_JOINTS: the 3D view's traces."""
    line3 = dict(mode="lines", hoverinfo="skip")
    return [
        go.Scatter3d(name="ground truth", line=dict(color=GT_COLOUR, width=6), **line3),
        go.Scatter3d(
            name="ground truth joints",
            mode="markers",
            showlegend=False,
            marker=dict(size=3, color=GT_COLOUR),
            hovertemplate="%{text} (ground truth)<extra></extra>",
        ),
        go.Scatter3d(name="prediction", line=dict(color=PRED_COLOUR, width=4), **line3),
        go.Scatter3d(
            name="prediction joints (colour: error)",
            mode="markers",
            showlegend=False,
            marker=dict(
                size=5,
                color=[],
                # cividis: ordered by lightness and readable with red-green colour blindness
                colorscale=ERROR_COLOURSCALE,
                cmin=0,
                cmax=ERROR_SCALE_MM,
                # beside the 3D view it colours (the scene spans x 0-0.57; the camera view's labels
                # start near 0.6), not at the page edge
                colorbar=dict(title="error (mm)", x=0.5, y=0.7, len=0.5, thickness=12),
            ),
            hovertemplate="%{text}<extra></extra>",
        ),
    ]


#: The camera view's key, in its title: its markers come and go by frame, and a legend entry
#: for them would too (plotly leaves out traces with no points), so the legend holds the 3D
#: view's two skeletons only.
#: Two lines: on one, the narrow middle column cut the key off ("o score <").
CAMERA_VIEW_TITLE = f"camera view (px)<br>x missed, o score < {LOW_SCORE}"


def _traces_2d() -> list:
    """T_CLEAN, T_DET_BONES, T_DET_JOINTS, T_MISSED, T_LOW: the camera view's traces (no legend
    entries: :data:`CAMERA_VIEW_TITLE` is their key)."""
    return [
        go.Scatter(
            name="ground truth projected",
            showlegend=False,
            mode="lines",
            hoverinfo="skip",
            line=dict(color=GT_COLOUR, width=5),
            opacity=0.35,
        ),
        go.Scatter(
            name="detections",
            mode="lines",
            showlegend=False,
            hoverinfo="skip",
            line=dict(color=DET_COLOUR, width=2),
        ),
        go.Scatter(
            name="detected joints",
            mode="markers",
            showlegend=False,
            marker=dict(size=6, color=DET_COLOUR),
            hovertemplate="%{text}<extra></extra>",
        ),
        go.Scatter(
            name="missed (filled)",
            showlegend=False,
            mode="markers",
            marker=dict(size=11, symbol="x", color=MISSED_COLOUR),
            hovertemplate="%{text}: missed, filled<extra></extra>",
        ),
        go.Scatter(
            name=f"score < {LOW_SCORE}",
            showlegend=False,
            mode="markers",
            marker=dict(size=11, symbol="circle-open", color=LOW_COLOUR, line=dict(width=2)),
            hovertemplate="%{text}: low confidence<extra></extra>",
        ),
    ]


def _traces_curve() -> list:
    """T_CURVE, T_CURSOR: the error curve and the current frame's marker line."""
    return [
        go.Scatter(
            name="MPJPE",
            mode="lines",
            showlegend=False,
            line=dict(color=PRED_COLOUR, width=1.5),
            hovertemplate="frame %{x}: %{y:.0f} mm<extra></extra>",
        ),
        go.Scatter(
            name="frame",
            mode="lines",
            showlegend=False,
            hoverinfo="skip",
            line=dict(color="black", width=1.5, dash="dot"),
        ),
    ]


def frame_update(clip: Clip, t: int) -> dict[int, dict]:
    """``{trace index: {property: value}}``: what changes in the figure when frame ``t`` is
    shown (the per-frame traces only; :func:`clip_update` sets the rest)."""
    out: dict[int, dict] = {}
    names3 = clip.layout_3d.joint_names
    empty3 = dict(x=[], y=[], z=[])
    for bones, joints, poses in (
        (T_GT_BONES, T_GT_JOINTS, clip.gt),
        (T_PRED_BONES, T_PRED_JOINTS, clip.pred),
    ):
        if poses is None:
            out[bones], out[joints] = dict(empty3), dict(empty3)
            continue
        seg = _lines(poses[t], clip.layout_3d)
        out[bones] = dict(x=seg[:, 0], y=seg[:, 1], z=seg[:, 2])
        out[joints] = dict(x=poses[t, :, 0], y=poses[t, :, 1], z=poses[t, :, 2])
    err = clip.error_mm
    if clip.pred is not None:
        # without ground truth there is no error: the joints take the prediction's colour
        out[T_PRED_JOINTS]["marker.color"] = err[t] if err is not None else PRED_COLOUR
        out[T_PRED_JOINTS]["text"] = (
            [f"{n}: {e:.0f} mm" for n, e in zip(names3, err[t])]
            if err is not None
            else list(names3)
        )
    empty2 = dict(x=[], y=[])
    if clip.clean is not None:
        seg = _lines(clip.clean[t], clip.clean_layout)
        out[T_CLEAN] = dict(x=seg[:, 0], y=seg[:, 1])
    else:
        out[T_CLEAN] = dict(empty2)
    if clip.detections is not None:
        det, layout = clip.detections[t], clip.layout_2d
        seg = _lines(det, layout)
        names = layout.joint_names
        missed, low = clip.missed[t], clip.low[t]
        ok = ~missed & ~low
        out[T_DET_BONES] = dict(x=seg[:, 0], y=seg[:, 1])
        out[T_DET_JOINTS] = dict(
            x=det[ok, 0],
            y=det[ok, 1],
            text=[f"{names[j]} (score {clip.scores[t, j]:.2f})" for j in np.flatnonzero(ok)],
        )
        out[T_MISSED] = dict(
            x=det[missed, 0], y=det[missed, 1], text=[names[j] for j in np.flatnonzero(missed)]
        )
        out[T_LOW] = dict(
            x=det[low, 0],
            y=det[low, 1],
            text=[f"{names[j]} (score {clip.scores[t, j]:.2f})" for j in np.flatnonzero(low)],
        )
    else:
        for i in (T_DET_BONES, T_DET_JOINTS, T_MISSED, T_LOW):
            out[i] = dict(empty2)
    mpjpe = clip.mpjpe_mm
    if mpjpe is not None:
        top = float(np.nanmax(mpjpe)) if len(mpjpe) else 1.0
        out[T_CURSOR] = dict(x=[t, t], y=[0, top * 1.05])
    else:
        out[T_CURSOR] = dict(empty2)
    return out


def frame_title(clip: Clip, t: int) -> str:
    """The figure's title at frame ``t``: where we are, and the frame's MPJPE."""
    text = f"frame {t} / {len(clip) - 1} ({t / clip.fps:.2f} s)"
    mpjpe = clip.mpjpe_mm
    if mpjpe is not None:
        text += f" · MPJPE {mpjpe[t]:.0f} mm (clip mean {mpjpe.mean():.0f} mm)"
    elif clip.pred is None:
        text += " · no prediction: choose a model"
    return text


def clip_update(clip: Clip) -> tuple[dict[int, dict], dict]:
    """What changes once per clip: hover names, the error curve, and the axes' ranges (fixed over
    the clip so that the skeleton moves, not the axes). Returns (trace updates, layout updates)."""
    names3 = list(clip.layout_3d.joint_names)
    traces: dict[int, dict] = {T_GT_JOINTS: dict(text=names3)}
    mpjpe = clip.mpjpe_mm
    if mpjpe is not None:
        x, y = _curve(mpjpe)
        traces[T_CURVE] = dict(x=x, y=y)
    else:
        traces[T_CURVE] = dict(x=[], y=[])
    # no error to show (no ground truth or no prediction): no colour bar and no curve panel
    traces[T_PRED_JOINTS] = {"marker.showscale": mpjpe is not None}
    h = clip.extent()
    z = min(float(np.nanmin(a[..., 2])) for a in (clip.gt, clip.pred) if a is not None)
    traces[T_FLOOR] = dict(x=[-h, h, h, -h], y=[-h, -h, h, h], z=[z] * 4)
    layout = {
        "xaxis2.visible": mpjpe is not None,
        "yaxis2.visible": mpjpe is not None,
        "scene.xaxis.range": [-h, h],
        "scene.yaxis.range": [-h, h],
        "scene.zaxis.range": [-h, h],
        "scene.xaxis.title.text": "x (m)",
        "scene.yaxis.title.text": "y (m)",
        "scene.zaxis.title.text": "z, up (m)",
    }
    pts = [a for a in (clip.detections, clip.clean) if a is not None]
    if clip.image is not None:
        # the camera's image, drawn as a frame, and the axes fixed to it for the whole clip: a
        # person walking towards the camera then moves in the picture, the axes do not
        w, h_img = clip.image
        pts.append(np.array([[0.0, 0.0], [w, h_img]]))
        layout["shapes"] = [
            dict(type="rect", xref="x", yref="y", x0=0, y0=0, x1=w, y1=h_img,
                 line=dict(color="#999999", width=1), layer="below")
        ]  # fmt: skip
    if pts:
        allpts = np.concatenate([a.reshape(-1, 2) for a in pts])
        allpts = allpts[np.isfinite(allpts).all(-1)]
        lo, hi = allpts.min(0) - 30, allpts.max(0) + 30
        layout["xaxis.range"] = [float(lo[0]), float(hi[0])]
        layout["yaxis.range"] = [float(hi[1]), float(lo[1])]
        layout["yaxis.autorange"] = False  # the range above, kept: no re-centring per frame
    layout["xaxis2.range"] = [0, max(len(clip) - 1, 1)]
    if mpjpe is not None:
        layout["yaxis2.range"] = [0, float(np.nanmax(mpjpe)) * 1.08 + 1]
    return traces, layout
