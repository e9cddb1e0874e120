"""Shared fixtures. Tests never write into the repository's reports/: DILPOSE_REPORTS points to a
temporary folder for the whole session."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from dilpose import paths


@pytest.fixture(autouse=True, scope="session")
def _isolated_reports(tmp_path_factory):
    old = os.environ.get("DILPOSE_REPORTS")
    os.environ["DILPOSE_REPORTS"] = str(tmp_path_factory.mktemp("reports"))
    yield
    if old is None:
        os.environ.pop("DILPOSE_REPORTS", None)
    else:
        os.environ["DILPOSE_REPORTS"] = old


needs_shared = pytest.mark.skipif(
    paths.shared_data_dir() is None
    or not all(
        (paths.shared_data_dir() / f / "MANIFEST.csv").is_file()
        for f in ("mocap", "mocap-extended", "hdm05-cuts")
    ),
    reason="../shared/data (mocap, mocap-extended, hdm05-cuts) is not beside the clone",
)


def fuzz_settings(max_examples: int, deadline: int):
    """The readers' and loaders' hypothesis settings: reproducible (derandomized, no example
    database), and not failed for slow or large generated files or function-scoped fixtures."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=max_examples,
        deadline=deadline,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


def write_shop_folder(root, frames: int):
    """A one-subject ("p01", train), one-camera, one-clip ("walk 01") shop folder of ``frames``
    frames at ``root``, written by dilpose.datasets.shop_format; returns ``root``."""
    import numpy as np

    from dilpose.camera import load_h36m_cameras
    from dilpose.datasets import shop_format

    cam = load_h36m_cameras()["S1"][0]
    rng = np.random.default_rng(0)
    clip = {
        "positions_3d": rng.normal(0, 0.3, (frames, 17, 3)) + [0, 0, 1],
        "keypoints_2d": rng.uniform(100, 900, (1, frames, 17, 2)),
        "scores_2d": rng.uniform(0.5, 1, (1, frames, 17)),
        "labels": np.zeros(frames, np.uint8),
    }
    shop_format.write(root, [cam], {"p01": {"walk 01": clip}}, {"p01": {"split": "train"}})
    return root


def write_h36m_files(folder) -> None:
    """VideoPose3D's Human3.6M files in their exact upstream format, written into ``folder``: CMU
    motion standing in for the (non-downloadable) Human3.6M motion, S1 and S9 'Walking 1', 2D
    (H36M-17 layout, as the cpn file names none) projected through the real Human3.6M cameras."""
    import numpy as np

    from dilpose import camera, formats
    from dilpose import skeleton as sk
    from dilpose.datasets import mocap_files

    cmu = mocap_files.load()
    cams = camera.load_h36m_cameras()
    pos3d, pos2d = {}, {}
    for subject, (cmu_subject, action) in {
        "S1": ("cmu16", "walk 16_15"),
        "S9": ("cmu09", "run 09_11"),
    }.items():
        p17 = cmu.clip(cmu_subject, action).astype(np.float64)
        p32 = np.repeat(p17[:, :1], 32, axis=1)
        p32[:, list(sk.H36M32_TO_17)] = p17
        pos3d[subject] = {"Walking 1": p32}
        pos2d[subject] = {"Walking 1": [cam.project(p17) for cam in cams[subject]]}
    formats.save_positions_3d(folder / "data_3d_h36m.npz", pos3d)
    formats.save_positions_2d(folder / "data_2d_h36m_cpn_ft_h36m_dbb.npz", pos2d, layout="h36m")


@contextlib.contextmanager
def alarm_after(seconds: int = 10):
    """Fail (instead of hanging the suite) if the block blocks, e.g. opening a FIFO."""

    def _timeout(signum, frame):
        raise TimeoutError(f"blocked for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def small_sequences():
    """Two CMU subjects' clips for fast training tests: (cmu02 on cameras 0 and 1, cmu10 on 0)."""
    from dilpose import datasets

    data = datasets.load("mocap", seed=0, subjects=("cmu02", "cmu10"))
    return datasets.sequences(data, ["cmu02"], cameras=(0, 1)), datasets.sequences(
        data, ["cmu10"], cameras=(0,)
    )


def small_config(**kw):
    """A tiny smoke-profile config (16 channels, 9 frames, 2 epochs) with ``kw`` on top."""
    from dilpose import config

    # On the CPU even where a GPU is visible: bit-identical reruns and resumes are CPU guarantees
    # (GPU convolution backward passes may sum in a different order each run).
    settings = dict(
        filter_widths=(3, 3), channels=16, batch_size=64, stride_subsample=2, epochs=2, device="cpu"
    )
    return config.for_profile("smoke", **{**settings, **kw})
