import os
import re
import subprocess
import sys

import pytest
import torch
from conftest import small_config, small_sequences

from dilpose import checkpoints, devices, evaluate, train
from dilpose.errors import DataError


@pytest.fixture(scope="module")
def seqs():
    return small_sequences()


_cfg = small_config


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_bn_momentum_decays_from_start_to_end():
    assert train.bn_momentum(0, 90, 0.1, 0.001) == pytest.approx(0.1)
    assert train.bn_momentum(89, 90, 0.1, 0.001) == pytest.approx(0.001)
    assert train.bn_momentum(45, 90, 0.1, 0.001) == pytest.approx(0.1 * 0.01 ** (45 / 89))


def test_device_choice():
    assert devices.resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert devices.resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            devices.resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_training_on_a_gpu_gives_a_checkpoint_the_cpu_can_use(seqs, tmp_path):
    gpu = train.Trainer(
        _cfg(device="cuda"), seqs[0], checkpoint=tmp_path / "gpu.pt", progress=False
    )
    assert next(gpu.model.parameters()).is_cuda
    history = gpu.fit()
    assert history.epochs[-1].loss_mm < history.epochs[0].loss_mm
    on_gpu = evaluate.evaluate(gpu.eval_network(), seqs[1], gpu.cfg)["mpjpe"]["frame_mean"]
    cpu_model = checkpoints.model_from_checkpoint(tmp_path / "gpu.pt")
    on_cpu = evaluate.evaluate(cpu_model, seqs[1], gpu.cfg)["mpjpe"]["frame_mean"]
    # GPU convolutions may use TF32: equal to about 1e-3 relative, not bit for bit.
    assert on_cpu == pytest.approx(on_gpu, rel=1e-2)


def test_seeded_runs_are_reproducible(seqs):
    a = train.Trainer(_cfg(), seqs[0], progress=False)
    a.fit()
    b = train.Trainer(_cfg(), seqs[0], progress=False)
    b.fit()
    for k, v in _weights(a).items():
        assert torch.equal(v, _weights(b)[k]), k
    c = train.Trainer(_cfg(seed=1), seqs[0], progress=False)
    c.fit()
    assert not torch.equal(_weights(a)["shrink.weight"], _weights(c)["shrink.weight"])


def test_interrupted_and_resumed_run_ends_with_the_same_weights(seqs, tmp_path):
    full = train.Trainer(_cfg(epochs=3), seqs[0], checkpoint=tmp_path / "full.pt", progress=False)
    full.fit()
    part = train.Trainer(_cfg(epochs=3), seqs[0], checkpoint=tmp_path / "part.pt", progress=False)
    part.fit(stop_after=1)
    assert part.epoch == 1
    resumed = train.Trainer(
        _cfg(epochs=3), seqs[0], checkpoint=tmp_path / "part.pt", progress=False
    )
    resumed.fit(resume=True)
    assert resumed.epoch == 3 and len(resumed.history.epochs) == 3
    for k, v in _weights(full).items():
        assert torch.equal(v, _weights(resumed)[k]), f"{k} differs after resume"
    assert [
        p.name for p in tmp_path.iterdir() if p.name.startswith(".")
    ] == []  # no temp files left


def test_schedule_lr_decays_per_epoch(seqs):
    t = train.Trainer(_cfg(epochs=3), seqs[0], progress=False)
    history = t.fit()
    assert [e.lr for e in history.epochs] == pytest.approx([1e-3, 0.95e-3, 0.95**2 * 1e-3])
    assert history.epochs[0].bn_momentum == pytest.approx(0.1)
    assert history.epochs[-1].bn_momentum == pytest.approx(0.001)


def test_training_reduces_the_error(seqs):
    t = train.Trainer(_cfg(epochs=4, channels=32), seqs[0], val=seqs[1], progress=False)
    before = evaluate.evaluate(t.eval_network(), seqs[1], t.cfg, flip_test=False)["mpjpe"][
        "frame_mean"
    ]
    history = t.fit()
    assert history.epochs[-1].loss_mm < history.epochs[0].loss_mm
    assert history.epochs[-1].val_mpjpe_mm < 0.8 * before


def test_resume_with_a_different_architecture_is_refused(seqs, tmp_path):
    train.Trainer(_cfg(epochs=1), seqs[0], checkpoint=tmp_path / "a.pt", progress=False).fit()
    other = train.Trainer(
        _cfg(epochs=2, channels=8), seqs[0], checkpoint=tmp_path / "a.pt", progress=False
    )
    with pytest.raises(DataError, match="architecture"):
        other.fit(resume=True)


def test_resume_with_a_different_config_is_refused_listing_the_fields(seqs, tmp_path):
    train.Trainer(_cfg(epochs=1), seqs[0], checkpoint=tmp_path / "a.pt", progress=False).fit()
    before = (tmp_path / "a.pt").read_bytes()
    other = train.Trainer(
        _cfg(epochs=2, seed=5, batch_size=32), seqs[0], checkpoint=tmp_path / "a.pt", progress=False
    )
    with pytest.raises(
        DataError,
        match=r"different configuration \(batch_size: 64 -> 32; epochs: 1 -> 2; "
        r"seed: 0 -> 5\).*--allow-config-change",
    ):
        other.fit(resume=True)
    assert (tmp_path / "a.pt").read_bytes() == before  # the stored config was not overwritten
    # The explicit flag allows it; the checkpoint then records the new settings.
    allowed = train.Trainer(
        _cfg(epochs=2, seed=5, batch_size=32),
        seqs[0],
        checkpoint=tmp_path / "a.pt",
        progress=False,
        allow_config_change=True,
    )
    allowed.fit(resume=True)
    ckpt = checkpoints.load_checkpoint(tmp_path / "a.pt")
    assert ckpt["epoch"] == 2 and ckpt["config"]["seed"] == 5 and ckpt["config"]["batch_size"] == 32
    # Where it runs is not part of what it is: device may differ.
    train.Trainer(
        _cfg(epochs=2, seed=5, batch_size=32, device="auto"),
        seqs[0],
        checkpoint=tmp_path / "a.pt",
        progress=False,
    ).fit(resume=True)


def test_resume_on_data_of_another_layout_is_refused(seqs, tmp_path):
    from dilpose import skeleton as sk

    train.Trainer(_cfg(epochs=1), seqs[0], checkpoint=tmp_path / "a.pt", progress=False).fit()
    other = train.Trainer(
        _cfg(epochs=2), seqs[0], layout_2d=sk.H36M17, checkpoint=tmp_path / "a.pt", progress=False
    )
    with pytest.raises(
        DataError, match="model reads coco17 keypoints .* this run's training data is h36m17"
    ):
        other.fit(resume=True)


def test_an_unwritable_checkpoint_path_fails_before_training(seqs, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="file is a file, not a folder"):
        train.Trainer(
            _cfg(epochs=1), seqs[0], checkpoint=tmp_path / "file" / "c.pt", progress=False
        )


def test_flip_test_evaluation_differs_but_stays_close(seqs):
    t = train.Trainer(_cfg(epochs=2, channels=32), seqs[0], progress=False)
    t.fit()
    plain = evaluate.evaluate(t.eval_network(), seqs[1], t.cfg, flip_test=False)
    flipped = evaluate.evaluate(t.eval_network(), seqs[1], t.cfg, flip_test=True)
    assert plain["protocol"]["flip_test"] is False and flipped["protocol"]["flip_test"] is True
    assert plain["mpjpe"]["frame_mean"] != flipped["mpjpe"]["frame_mean"]
    assert (
        abs(plain["mpjpe"]["frame_mean"] - flipped["mpjpe"]["frame_mean"])
        < 0.3 * plain["mpjpe"]["frame_mean"]
    )


@pytest.mark.slow
def test_torchrun_with_two_cpu_processes(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "dilpose.cli",
        "train",
        "--profile",
        "smoke",
        "--epochs",
        "1",
        "--channels",
        "16",
        "--filter-widths",
        "3,3",
        "--checkpoint",
        str(tmp_path / "ddp.pt"),
        "--quiet",
    ]
    # CPU processes (gloo) even on a GPU machine: two ranks may share fewer GPUs than they need.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    sums = re.findall(r"rank (\d)/2 weights checksum (\S+)", out.stdout)
    assert sorted(r for r, _ in sums) == ["0", "1"], out.stdout
    assert sums[0][1] == sums[1][1]  # DDP kept both replicas identical
    ckpt = checkpoints.load_checkpoint(tmp_path / "ddp.pt")
    assert ckpt["epoch"] == 1
