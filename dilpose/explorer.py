"""An interactive 3D skeleton explorer: ground truth and prediction of one clip, frame by frame.

Three layers, one module each:

* :mod:`dilpose.explorer_data`: :class:`~dilpose.explorer_data.Clip` and the functions that build
  it, plain numpy, no widgets. A clip holds everything the figure shows, for every frame, in
  display coordinates: 3D joints (metres, Z up, root at the origin), the per-joint error (mm), the
  camera's 2D detections (pixels) with their missed and low-confidence joints, and the per-frame
  MPJPE.
* :mod:`dilpose.explorer_figures`: one plotly figure (3D view, the camera's 2D view, the error
  curve) and the updates that show one frame in it. Moving the slider restyles the figure's
  existing traces with one frame's data, in one message: the browser never holds more than one
  frame of joints, however long the clip.
* :class:`Explorer` (this module): ipywidgets pickers (dataset, subject, action, camera, model), a
  frame slider with play/pause and speed, and the figure as a plotly ``FigureWidget``. Playback is
  :class:`~dilpose.explorer_player.Player`'s: in real time, skipping frames when drawing falls
  behind.

Notebook 07 opens one in a line (``Explorer(...).widget``); ``make explore`` serves that notebook
with Voila. Bad input (a missing file, another joint count, a sequence whose length differs from
its keypoints) is shown as a message in the widget, never as a traceback.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from . import datasets
from .errors import DataError
from .explorer_data import (
    LIFT_SOURCE,
    Clip,
    Predictions,
    dataset_clip,
    lift_clip,
    load_data,
    model_choices,
)
from .explorer_figures import (
    CAMERA_EYE,
    DEFAULT_EYE,
    T_CURSOR,
    T_CURVE,
    clip_update,
    empty_figure,
    frame_title,
    frame_update,
)
from .explorer_player import Player

#: Label of "no model" in the model picker.
NO_MODEL = "none (ground truth only)"
#: The play button's two faces (text, not icons: the app's icon font comes from the internet).
PLAY, PAUSE = "\u25b6 play", "\u275a\u275a pause"
SPEEDS = {"0.1x": 0.1, "0.25x": 0.25, "0.5x": 0.5, "1x": 1.0, "2x": 2.0}


# --------------------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------------------
class Explorer:
    """Pick a clip and a model, scrub through it frame by frame.

    ``Explorer(dataset, subject, action, camera, model)`` opens a clip of a registered dataset
    (:func:`dilpose.datasets.names`); ``model`` is a label of :func:`model_choices` or a substring
    of one (default: the first, the shipped ``lifter-243`` where the input layout fits), or
    :data:`NO_MODEL`. ``lift``: a ``dilpose lift`` result to open instead (``keypoints``: the 2D
    file it lifted). ``frame``: the frame to open at, or ``"worst"`` for the clip's largest
    MPJPE. Show ``explorer.widget``. Choose the opening clip and frame here rather than by
    :meth:`select` before showing it: changes to the figure before the browser shows it do not
    reach the browser.

    Switching model, camera or clip keeps the frame (clamped to the new clip's length). Errors
    (missing files, bad shapes, a dataset whose files are not in place) appear in
    ``explorer.message``.
    """

    def __init__(
        self,
        dataset: str = "mocap",
        subject: str | None = None,
        action: str | None = None,
        camera: int = 0,
        model: str | None = None,
        lift: str | Path | None = None,
        keypoints: str | Path | None = None,
        frame: int | str = 0,
        seed: int = 0,
    ):
        self.seed = seed
        self._views: dict = {}
        self.predictions = Predictions()
        self.clip: Clip | None = None
        self._busy = False
        self._models: dict[str, Path] = {}
        self.lift_clip: Clip | None = None
        self._make_pickers()
        self.player = Player(
            show=self._play_frame,
            position=lambda: int(self.frame.value),
            length=lambda: len(self.clip) if self.clip is not None else 1,
            stopped=self._play_stopped,
        )
        # The starting state is drawn into a plain figure, which then becomes the FigureWidget:
        # updates made to a FigureWidget before the browser shows it do not reach the browser.
        self.figure = empty_figure()
        self._open_start(dataset, subject, action, camera, model, lift, keypoints, frame)
        self.figure = go.FigureWidget(self.figure)
        self._make_layout()
        self._connect()
        self._set_speed()

    def _make_pickers(self):
        """The pickers, the frame slider with play and speed, the lift-result inputs and the two
        message lines; each gets a CSS class (``dilpose-explorer-<description>``) for the browser
        test."""
        # ipywidgets is an optional dependency (the notebooks extra): imported when a widget is made
        import ipywidgets as W

        style = dict(description_width="initial")
        self.source = W.Dropdown(
            options=list(datasets.names()),
            description="dataset",
            style=style,
            layout=W.Layout(width="210px"),
        )
        self.subject = W.Dropdown(
            description="subject", style=style, layout=W.Layout(width="180px")
        )
        self.action = W.Dropdown(description="action", style=style, layout=W.Layout(width="330px"))
        self.camera = W.Dropdown(description="camera", style=style, layout=W.Layout(width="130px"))
        self.model = W.Dropdown(description="model", style=style, layout=W.Layout(width="560px"))
        self.frame = W.IntSlider(
            min=0,
            max=0,
            value=0,
            description="frame",
            continuous_update=True,
            layout=W.Layout(width="520px"),
        )
        # Play/pause and stop drive the kernel's player (explorer_player), not a timer in the
        # browser: the frame shown follows the wall clock.
        self.play = W.ToggleButton(value=False, description=PLAY, layout=W.Layout(width="90px"))
        self.stop_button = W.Button(
            description="\u25a0", tooltip="stop: back to the first frame",
            layout=W.Layout(width="40px"),
        )  # fmt: skip
        self.speed = W.Dropdown(
            options=list(SPEEDS),
            value="1x",
            description="speed",
            style=style,
            layout=W.Layout(width="130px"),
        )
        self.status = W.HTML()
        self.message = W.HTML()
        self.lift_path = W.Text(
            placeholder="PREFIX.npy or PREFIX.json from `dilpose lift`",
            description="lift result",
            style=style,
            layout=W.Layout(width="420px"),
        )
        self.keypoints_path = W.Text(
            placeholder="the keypoint JSON it lifted (optional)",
            description="keypoints",
            style=style,
            layout=W.Layout(width="380px"),
        )
        self.open_button = W.Button(description="open", layout=W.Layout(width="80px"))
        self.camera_view = W.ToggleButton(
            value=False, description="camera's view", tooltip="see the 3D view from the camera",
            layout=W.Layout(width="120px"),
        )  # fmt: skip
        self.worst_button = W.Button(
            description="worst frame", tooltip="the frame with the largest MPJPE",
            layout=W.Layout(width="110px"),
        )  # fmt: skip
        self.play.add_class("dilpose-explorer-play")
        self.stop_button.add_class("dilpose-explorer-stop")
        for w in (
            *(self.frame, self.subject, self.action, self.camera, self.model),
            *(self.source, self.lift_path, self.keypoints_path, self.open_button),
            self.worst_button,
            self.camera_view,
        ):
            w.add_class("dilpose-explorer-" + (w.description or "x").replace(" ", "-"))
        self.status.add_class("dilpose-explorer-status")
        self.message.add_class("dilpose-explorer-message")

    def _open_start(self, dataset, subject, action, camera, model, lift, keypoints, frame):
        """Draw the opening clip (or lift result) at the opening frame into the plain figure."""
        worst = frame == "worst"  # the clip's worst frame: known once the clip is predicted
        start = 0 if worst else max(int(frame), 0)
        self.frame.max = start  # the clip's length clamps it in _redraw_clip
        self.frame.value = start
        self._guard(lambda: self._open_dataset(dataset, subject, action, camera, model))
        if lift is not None:
            self._guard(lambda: self.open_lift(lift, keypoints))
        if self.clip is None or lift is None:
            self._guard(self._redraw_clip)
        if worst and self.clip is not None and self.clip.mpjpe_mm is not None:
            # chosen here, before the figure becomes a widget (see __init__), so the browser sees it
            self.frame.value = int(np.nanargmax(self.clip.mpjpe_mm))
            self._guard(self._redraw_clip)
        #: the frame the explorer opened at (the browser test checks the page shows it)
        self.opened_at = int(self.frame.value)

    def _make_layout(self):
        """``self.widget``: the pickers above the figure, the lift-result inputs below."""
        import ipywidgets as W  # optional dependency, as in _make_pickers

        self.widget = W.VBox(
            [
                W.HBox([self.source, self.subject, self.action, self.camera]),
                W.HBox([self.model]),
                W.HBox(
                    [self.play, self.stop_button, self.frame, self.speed]
                    + [self.worst_button, self.camera_view]
                ),
                self.status,
                self.message,
                self.figure,
                W.HBox([self.lift_path, self.keypoints_path, self.open_button]),
            ]
        )
        self.widget.add_class("dilpose-explorer")
        # where it opened, for the browser test to compare with what the page shows
        self.widget.add_class(f"dilpose-explorer-opened-at-{self.opened_at}")

    def _connect(self):
        """What each picker, the slider and the open button do when changed."""
        self.frame.observe(lambda ch: self._guard(self._show_frame), "value")
        self.speed.observe(lambda ch: self._set_speed(), "value")
        self.play.observe(lambda ch: self._guard(self._play_changed), "value")
        self.stop_button.on_click(lambda b: self._guard(self.stop))
        # a browser drew the figure's last update: the player may send the next frame
        self.figure.observe(self._figure_drawn, "_js2py_traceDeltas")
        self.source.observe(
            lambda ch: self._guard(lambda: self._source_changed(ch["old"])), "value"
        )
        self.subject.observe(lambda ch: self._guard(self._subject_changed), "value")
        for w in (self.action, self.camera, self.model):
            w.observe(lambda ch: self._guard(self._clip_changed), "value")
        self.worst_button.on_click(lambda b: self._guard(self.show_worst))
        self.camera_view.observe(lambda ch: self._guard(self._set_viewpoint), "value")
        # a click on the error curve (or its cursor) seeks to that frame
        for trace in (self.figure.data[T_CURVE], self.figure.data[T_CURSOR]):
            trace.on_click(lambda trace, points, state: self._guard(lambda: self._seek(points)))
        self.open_button.on_click(
            lambda b: self._guard(
                lambda: self.open_lift(
                    self.lift_path.value.strip(), self.keypoints_path.value.strip() or None
                )
            )
        )

    # -- state changes ---------------------------------------------------------------------------
    def _guard(self, fn):
        """Run a UI step; an error becomes the widget's message, not a traceback."""
        if self._busy:
            return
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (every failure is shown to the reader)
            self.message.value = f"<div style='color:#b00020'><b>Cannot show this:</b> {_html(str(e)) if isinstance(e, DataError) else _html(type(e).__name__ + ': ' + str(e))}</div>"  # noqa: E501

    def _set_options(self, widget, options, value=None):
        self._busy = True
        try:
            widget.options = options
            if value is not None and value in [
                o[1] if isinstance(o, tuple) else o for o in options
            ]:
                widget.value = value
        finally:
            self._busy = False

    def data(self, name: str):
        """The loaded dataset ``name`` (loaded once)."""
        return load_data(name, self.seed)

    def _open_dataset(self, name, subject=None, action=None, camera=0, model=None):
        self._set_options(self.source, self.source.options, name)
        data = self.data(name)
        subjects = list(data.test_subjects) + [
            s for s in data.subjects if s not in data.test_subjects
        ]
        self._set_options(
            self.subject,
            [(f"{s} (test)" if s in data.test_subjects else f"{s} (train)", s) for s in subjects],
            subject if subject in subjects else subjects[0],
        )
        self._fill_actions(action, camera)
        self._fill_models(data, model)

    def _fill_actions(self, action=None, camera=None):
        data = self.data(self.source.value)
        actions = data.actions(self.subject.value)
        self._set_options(
            self.action,
            actions,
            action
            if action in actions
            else (self.action.value if self.action.value in actions else actions[0]),
        )
        n = len(data.cameras[self.subject.value])
        cam = camera if camera is not None else self.camera.value
        self._set_options(
            self.camera,
            [(str(c), c) for c in range(n)],
            cam if cam is not None and 0 <= cam < n else 0,
        )

    def _fill_models(self, data, model=None):
        self._models = model_choices(data.layout_2d, data.layout_3d.num_joints)
        labels = [*self._models, NO_MODEL]
        want = self.model.value
        if model is not None:
            hits = [label for label in labels if model in label]
            if not hits:
                raise DataError("model", f"no model {model!r}; models: {labels}")
            want = hits[0]
        self._set_options(self.model, labels, want if want in labels else labels[0])

    def show_worst(self) -> None:
        """Go to the current clip's frame with the largest MPJPE."""
        mpjpe = self.clip.mpjpe_mm if self.clip is not None else None
        if mpjpe is None:
            raise DataError("worst frame", "this clip has no ground truth, so no error to rank by")
        self.frame.value = int(np.nanargmax(mpjpe))

    def _set_viewpoint(self) -> None:
        """The 3D view from the chosen camera (the display is camera space turned Z-up), or the
        default three-quarter view."""
        self.figure.layout.scene.camera = CAMERA_EYE if self.camera_view.value else DEFAULT_EYE

    def _seek(self, points) -> None:
        """Go to the frame of a clicked point of the error curve."""
        if points.xs:
            self.frame.value = int(round(min(max(points.xs[0], 0), self.frame.max)))

    def _source_changed(self, previous=None):
        name = self.source.value
        spec = datasets.find(name) if name != LIFT_SOURCE else None
        if spec is not None and not spec.available():
            # say so, and keep showing what was shown: the picker goes back to it
            if previous is not None:
                self._set_options(self.source, self.source.options, previous)
            self.message.value = (
                f"<div style='color:#b00020'><b>{_html(name)} is not installed:</b> "
                f"{_html(spec.source)}</div>"
            )
            return
        if name == LIFT_SOURCE:
            for w in (self.subject, self.action, self.camera, self.model):
                w.disabled = True
            self.clip = self.lift_clip
            self._redraw_clip()
            return
        for w in (self.subject, self.action, self.camera, self.model):
            w.disabled = False
        self._open_dataset(self.source.value)
        self._redraw_clip()

    def _subject_changed(self):
        self._fill_actions()
        self._redraw_clip()

    def _clip_changed(self):
        self._redraw_clip()

    def open_lift(self, path, keypoints=None):
        """Open a ``dilpose lift`` result (and the keypoints it lifted) in the explorer."""
        if not path:
            raise DataError("lift result", "give the path of PREFIX.npy or PREFIX.json")
        clip = lift_clip(path, keypoints)  # raises before anything changes
        self.lift_clip = clip
        if LIFT_SOURCE not in self.source.options:
            self._set_options(self.source, [*self.source.options, LIFT_SOURCE])
        self._busy = True
        try:
            self.source.value = LIFT_SOURCE
        finally:
            self._busy = False
        for w in (self.subject, self.action, self.camera, self.model):
            w.disabled = True
        self.clip = clip
        self._redraw_clip()

    def current_clip(self) -> Clip:
        """The clip the pickers select, with the chosen model's prediction (computed once)."""
        if self.source.value == LIFT_SOURCE:
            return self.lift_clip
        data = self.data(self.source.value)
        subject, action, camera = self.subject.value, self.action.value, self.camera.value
        key = (data.name, subject, action)
        if key not in self._views:
            self._views[key] = datasets.example_views(data, subject, action)
        pred = None
        notes = []
        if self.model.value != NO_MODEL and self.model.value in self._models:
            pred = self.predictions.get(
                self._models[self.model.value], data, subject, action, camera
            )
        elif not self._models:
            notes.append(f"no model reads {data.layout_2d.name} 2D input: ground truth only")
        clip = dataset_clip(data, subject, action, camera, pred, self._views[key])
        clip.notes += notes
        return clip

    def _redraw_clip(self):
        """A new clip (or model): new traces throughout, the frame kept where it was."""
        self.message.value = ""
        if self.source.value != LIFT_SOURCE:
            self.clip = self.current_clip()
        clip = self.clip
        t = min(self.frame.value, len(clip) - 1)
        self._busy = True
        try:
            self.frame.max = len(clip) - 1
            self.frame.value = t
        finally:
            self._busy = False
        traces, layout = clip_update(clip)
        self._apply(frame_update(clip, t), traces, {**layout, "title.text": frame_title(clip, t)})
        self._set_speed()
        if clip.notes:
            self.message.value = "<i>" + _html("; ".join(clip.notes)) + "</i>"

    def _show_frame(self):
        """Slider moved: one restyle of the existing traces."""
        clip, t = self.clip, self.frame.value
        if clip is None or not 0 <= t < len(clip):
            return
        self._apply(frame_update(clip, t), {}, {"title.text": frame_title(clip, t)})

    def _apply(self, per_frame: dict, per_clip: dict, layout: dict):
        fig = self.figure
        with fig.batch_update():
            for i in {**per_clip, **per_frame}:
                props = {**per_clip.get(i, {}), **per_frame.get(i, {})}
                trace = fig.data[i]
                for key, value in _plain(props).items():
                    trace[key] = value
            for key, value in _plain(layout).items():
                fig.layout[key] = value
        mpjpe = self.clip.mpjpe_mm
        t = self.frame.value
        self.status.value = (
            f"<b>{_html(self.clip.title)}</b> · frame {t}: "
            + (
                f"MPJPE <b>{mpjpe[t]:.1f} mm</b>"
                if mpjpe is not None
                else "no ground truth"
                if self.clip.gt is None
                else "no prediction"
            )
            + f" · {len(self.clip)} frames at {self.clip.fps:g} Hz"
        )

    def _set_speed(self):
        self.player.fps = self.clip.fps if self.clip is not None else 50.0
        self.player.speed = SPEEDS[self.speed.value]
        if self.player.playing:
            self.player.retime()

    # -- playback ------------------------------------------------------------------------------
    def _play_changed(self):
        """The play button: pressed plays from the frame shown, released pauses there."""
        self.play.description = PAUSE if self.play.value else PLAY
        if not self.play.value:
            self.player.stop()
            return
        try:
            self.player.start()
        except DataError:
            self._set_playing(False)
            raise

    def stop(self) -> None:
        """Stop playing and go back to the first frame."""
        self.player.stop()
        self._set_playing(False)
        self.frame.value = 0

    def _set_playing(self, value: bool) -> None:
        self._busy = True
        try:
            self.play.value = value
            self.play.description = PAUSE if value else PLAY
        finally:
            self._busy = False

    def _play_frame(self, t: int) -> None:
        self.frame.value = t  # its observer draws the frame

    def _play_stopped(self) -> None:
        self._set_playing(False)  # the clip's end, or no page drew a frame for a while

    def _figure_drawn(self, change) -> None:
        # a report for an older update (a browser behind by more than one) does not count
        msg = change["new"]
        if msg and msg.get("trace_edit_id") == self.figure._last_trace_edit_id:
            self.player.drawn()

    # -- for code and tests ------------------------------------------------------------------
    def select(self, **values):
        """Set pickers by name, as a reader would: ``select(subject="cmu09", model="causal")``
        (``model`` may be a substring of a label). Returns self."""
        for name in ("source", "subject", "action", "camera", "model", "frame", "speed"):
            if name not in values:
                continue
            value = values[name]
            widget = getattr(self, name)
            if name == "model" and value not in widget.options:
                hits = [label for label in widget.options if value in label]
                if not hits:
                    raise DataError("model", f"no model {value!r}; models: {list(widget.options)}")
                value = hits[0]
            widget.value = value
        unknown = set(values) - {"source", "subject", "action", "camera", "model", "frame", "speed"}
        if unknown:
            raise DataError("explorer", f"unknown picker(s) {sorted(unknown)}")
        return self

    def _ipython_display_(self):
        # IPython comes with ipywidgets (optional): only a notebook displays the explorer
        from IPython.display import display

        display(self.widget)


def _plain(props: dict) -> dict:
    """numpy arrays -> lists of floats with None for NaN (plotly's JSON for gaps)."""
    out = {}
    for k, v in props.items():
        if isinstance(v, np.ndarray):
            if v.dtype.kind == "f":
                v = np.where(np.isfinite(v), np.round(v, 5), np.nan)
                v = [None if x != x else float(x) for x in v.tolist()]
            else:
                v = v.tolist()
        out[k] = v
    return out


def _html(text: str) -> str:

    return html.escape(text)
