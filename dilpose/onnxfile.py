"""Reading and running dilpose's ONNX files: their metadata (which model, which architecture, a
checksum of the file's own weights), onnxruntime sessions, and :class:`OnnxModel`, which runs a
whole-sequence file as a model after checking that the file is the one exported from that model.
Written by :mod:`dilpose.export`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from . import batches
from .config import ModelConfig
from .errors import DataError
from .model import _TemporalBase
from .quantize import check_model_input

#: Keys in an exported ONNX file's metadata: which model (a fingerprint of its weights) and how.
ONNX_KIND = "dilpose.kind"
ONNX_FINGERPRINT = "dilpose.weights_sha256"
ONNX_CONFIG = "dilpose.model_config"
ONNX_INPUT = "dilpose.input_spec"
ONNX_STATES = "dilpose.state_shapes"
#: sha256 of the file's own weights (every initializer and constant), written with the metadata:
#: the fingerprint above names the source model, so a file whose weights were changed afterwards
#: (scaled, zeroed, swapped) would still match it; this one would not.
ONNX_FILE_WEIGHTS = "dilpose.file_weights_sha256"


# --------------------------------------------------------------------------------------------------
# Metadata and sessions (``onnx`` takes ~1.4 s to import, so the functions that need it import it
# when called: importing this module, the bench or the CLI does not pay for it)
# --------------------------------------------------------------------------------------------------
def weights_fingerprint(model: nn.Module) -> str:
    """sha256 (16 hex digits) of a model's fp32 weights: names an exported file's source model."""
    h = hashlib.sha256()
    for name, v in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(v.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def config_dict(cfg: ModelConfig) -> dict:
    """A model config as JSON-ready values (what an ONNX file records of its architecture)."""
    d = dataclasses.asdict(cfg)
    d["regularizer"] = str(cfg.regularizer)
    d["filter_widths"] = list(cfg.filter_widths)
    return d


def ort_session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session on ``path`` (``threads``: intra-op threads, default ORT's)."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def file_weights_sha256(m) -> str:
    """sha256 (16 hex digits) of an ONNX ModelProto's tensors: each initializer and each Constant
    node's value, by name, dtype, shape and values, in file order."""
    from onnx import numpy_helper  # slow to import: see the section comment

    h = hashlib.sha256()
    tensors = [(t.name, t) for t in m.graph.initializer]
    for node in m.graph.node:
        if node.op_type == "Constant":
            tensors += [(node.output[0], a.t) for a in node.attribute if a.name == "value"]
    for name, t in tensors:
        a = numpy_helper.to_array(t)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _load_onnx(path: Path):
    import onnx  # slow to import: see the section comment

    if not path.is_file():
        raise DataError(path, "ONNX file not found")
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf raises several types for a foreign or truncated file
        raise DataError(path, f"not a readable ONNX model: {e}") from None


def onnx_metadata(path: str | Path, verify: bool = False) -> dict[str, str]:
    """The metadata of an ONNX file, or a :class:`DataError` if it is not a readable ONNX model.

    verify: also require the file's weights to match the checksum its export recorded
    (:data:`ONNX_FILE_WEIGHTS`), a :class:`DataError` otherwise."""
    path = Path(path)
    m = _load_onnx(path)
    meta = {p.key: p.value for p in m.metadata_props}
    if verify:
        if ONNX_FILE_WEIGHTS not in meta:
            raise DataError(
                path,
                "records no checksum of its weights (not exported by dilpose, or by an older "
                "one: export it again)",
            )
        if file_weights_sha256(m) != meta[ONNX_FILE_WEIGHTS]:
            raise DataError(
                path,
                "its weights differ from those it was exported with (the checksum recorded at "
                "export does not match): the file was changed or damaged",
            )
    return meta


def _metadata_json(path: Path, meta: dict[str, str], key: str):
    """The JSON value of metadata ``key``; a :class:`DataError` naming the file and the key (not
    its value) if it is missing or not JSON."""
    if key not in meta:
        raise DataError(path, f"has no {key!r} in its metadata (not exported by dilpose?)")
    try:
        return json.loads(meta[key])
    except (ValueError, RecursionError):  # malformed, or nested past the parser's recursion
        raise DataError(path, f"metadata {key!r} is not valid JSON") from None


def file_bytes(path: str | Path) -> int:
    return Path(path).stat().st_size


# --------------------------------------------------------------------------------------------------
# Running ONNX files
# --------------------------------------------------------------------------------------------------
class OnnxModel(nn.Module):
    """A dilpose ONNX file run by onnxruntime, with the interface of a whole-sequence model
    (``cfg``, ``receptive_field()``, forward (N, T, J, F) -> (N, T - R + 1, J_out, 3)), so that
    :func:`dilpose.evaluate.evaluate` measures it like any model.

    ``model``: the PyTorch model the file must come from; a file exported from another model (other
    weights or architecture) or not by dilpose is a :class:`DataError`.
    """

    def __init__(self, path: str | Path, model: _TemporalBase, threads: int | None = None):
        super().__init__()
        path = Path(path)
        meta = onnx_metadata(path, verify=True)
        if ONNX_FINGERPRINT not in meta:
            raise DataError(path, "not exported by dilpose (no dilpose metadata in the ONNX file)")
        if not meta.get(ONNX_KIND, "").startswith("whole-sequence"):
            raise DataError(path, "is not a whole-sequence model (its 'dilpose.kind' says so)")
        recorded, mine = _metadata_json(path, meta, ONNX_CONFIG), config_dict(model.cfg)
        if recorded != mine:
            differ = sorted(
                k for k in mine if not isinstance(recorded, dict) or recorded.get(k) != mine[k]
            )
            raise DataError(
                path,
                f"was exported from another architecture than the model it is used with "
                f"(differing: {', '.join(differ) or 'unknown keys'})",
            )
        mine = weights_fingerprint(model)
        if meta[ONNX_FINGERPRINT] != mine:
            raise DataError(
                path,
                f"was exported from another model (its weights fingerprint differs from this "
                f"model's, {mine})",
            )
        self.path, self.cfg, self.kind = path, model.cfg, meta[ONNX_KIND]
        self.input_spec = getattr(model, "input_spec", None)
        self.session = ort_session(path, threads)
        self._anchor = nn.Parameter(torch.zeros(1), requires_grad=False)  # evaluate() asks for one

    def receptive_field(self) -> int:
        return self.cfg.receptive_field()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_model_input(self.cfg, x, "OnnxModel")
        out = self.session.run(None, {"keypoints_2d": x.detach().float().numpy()})[0]
        return torch.from_numpy(out)


def run_step_file(path: Path, keypoints: np.ndarray) -> np.ndarray:
    """Run a step ONNX file over one sequence (T, J, F) from its first frame: (T, J_out, 3) metres,
    one stream, no flip, not root-relative."""
    path = Path(path)
    shapes = _metadata_json(path, onnx_metadata(path, verify=True), ONNX_STATES)
    if not isinstance(shapes, list) or not all(
        isinstance(s, list) and len(s) == 2 and all(type(n) is int and 0 < n < 1 << 16 for n in s)
        for s in shapes
    ):
        raise DataError(path, f"metadata {ONNX_STATES!r} is not a list of (frames, channels) pairs")
    # One thread: a frame is little work, and on a busy 2-core machine two threads waiting for
    # each other made the step model's calibration pass 25x slower (47 s against 1.7 s).
    sess = ort_session(path, threads=1)
    states = [np.zeros((1, n, c), np.float32) for n, c in shapes]
    out = []
    for t, frame in enumerate(keypoints.astype(np.float32)):
        feed = {"frame": frame[None], "fresh": np.array([1.0 if t == 0 else 0.0], np.float32)}
        feed.update({f"state_{k}": s for k, s in enumerate(states)})
        pose, *states = sess.run(None, feed)
        out.append(pose[0])
    return np.stack(out)


def run_whole_file(model: OnnxModel, keypoints: np.ndarray) -> np.ndarray:
    """A whole-sequence ONNX model over one sequence (T, J, F), edge padded as evaluation pads it:
    (T, J_out, 3) metres, no flip, not root-relative."""
    before, after = batches.padding(model.receptive_field(), model.cfg.causal)
    x = np.pad(keypoints, ((before, after), (0, 0), (0, 0)), mode="edge")[None]
    with torch.inference_mode():
        return model(torch.from_numpy(x.astype(np.float32)))[0].numpy()
