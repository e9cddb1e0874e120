"""The model cache: a variant trained once is loaded the next time; changing one setting retrains
exactly that variant; an interrupted run continues from its last epoch; RETRAIN trains again
once."""

import ast
import errno
import inspect
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import torch

from dilpose import cache, checkpoints, config, datasets, fileio, train
from dilpose import skeleton as sk
from dilpose.errors import DataError


@pytest.fixture(scope="module")
def seqs():
    data = datasets.load("mocap", seed=0, subjects=("cmu02",))
    return datasets.sequences(data, ["cmu02"], cameras=(0,))


def _cfg(profile="smoke", **kw):
    return config.for_profile(
        profile,
        **{
            **dict(
                filter_widths=(3,),
                channels=8,
                epochs=2,
                device="cpu",
                stride_subsample=4,
                batch_size=256,
                eval_cameras=(0,),
                precision="fp32",  # the default profile says "auto": keep every request in fp32
            ),
            **kw,
        },
    )


@pytest.fixture
def reports(tmp_path, monkeypatch):
    monkeypatch.setenv("DILPOSE_REPORTS", str(tmp_path))
    monkeypatch.delenv("DILPOSE_RETRAIN_SINCE", raising=False)
    return tmp_path


def _count_fits(monkeypatch):
    calls = []
    real = train.Trainer.fit

    def fit(self, *a, **k):
        calls.append(self.cfg)
        return real(self, *a, **k)

    monkeypatch.setattr(train.Trainer, "fit", fit)
    return calls


def test_second_request_loads_the_same_model(seqs, reports, monkeypatch):
    fits = _count_fits(monkeypatch)
    a, trained = cache.train_cached(_cfg(), seqs, name="main")
    assert trained and len(fits) == 1
    # profile is only a name
    b, trained = cache.train_cached(_cfg(profile="default"), seqs, name="other")
    assert not trained and len(fits) == 1
    assert checkpoints.weights_checksum(a.model) == checkpoints.weights_checksum(b.model)
    assert [e.loss_mm for e in b.history.epochs] == [e.loss_mm for e in a.history.epochs]
    assert (reports / "checkpoints" / "main.pt").is_file() and (
        reports / "checkpoints" / "other.pt"
    ).is_file()
    assert os.path.samefile(a.checkpoint, reports / "checkpoints" / "main.pt")


@pytest.mark.parametrize(
    "change",
    [dict(seed=1), dict(channels=16), dict(regularizer="none"), dict(epochs=3), dict(causal=True)],
)
def test_changing_one_setting_retrains_exactly_that_variant(seqs, reports, monkeypatch, change):
    fits = _count_fits(monkeypatch)
    cache.train_cached(_cfg(), seqs)
    cache.train_cached(_cfg(**change), seqs)
    cache.train_cached(_cfg(), seqs)
    cache.train_cached(_cfg(**change), seqs)
    assert len(fits) == 2


def test_the_key_depends_on_data_layout_and_code(seqs):
    base = cache.entry(_cfg(), seqs, sk.COCO17, {"name": "supervised", "params": {}}, "fp32").key
    assert (
        cache.entry(_cfg(), seqs[:-1], sk.COCO17, {"name": "supervised", "params": {}}, "fp32").key
        != base
    )
    assert (
        cache.entry(_cfg(), seqs, sk.H36M17, {"name": "supervised", "params": {}}, "fp32").key
        != base
    )
    assert cache.entry(_cfg(), seqs, sk.COCO17, {"name": "semi", "params": {}}, "fp32").key != base
    assert (
        cache.entry(
            _cfg(device="cuda", eval_cameras=(1,)),
            seqs,
            sk.COCO17,
            {"name": "supervised", "params": {}},
            "fp32",
        ).key
        == base
    )
    assert len(cache.code_version()) == 16


def test_an_interrupted_run_continues_from_its_last_epoch(seqs, reports, monkeypatch):
    full, _ = cache.train_cached(_cfg(epochs=3), seqs)
    expected = checkpoints.weights_checksum(full.model)
    for f in (reports / "checkpoints").iterdir():
        f.unlink()
    entry = cache.entry(
        _cfg(epochs=3),
        seqs,
        sk.COCO17,
        {"name": "supervised", "params": {}, "unlabelled": False},
        precision="fp32",
    )
    part = train.Trainer(_cfg(epochs=3), seqs, checkpoint=entry.partial, progress=False)
    part.fit(stop_after=1)  # killed after epoch 1
    epochs_run = []
    resumed, trained = cache.train_cached(
        _cfg(epochs=3), seqs, callbacks=[lambda t, log: epochs_run.append(log.epoch)]
    )
    assert trained and epochs_run == [2, 3]  # epoch 1 was not trained again
    assert checkpoints.weights_checksum(resumed.model) == expected
    assert not entry.partial.exists() and entry.model.is_file()


def test_retrain_trains_every_model_once(seqs, reports, monkeypatch):
    fits = _count_fits(monkeypatch)
    cache.train_cached(_cfg(), seqs)
    time.sleep(0.01)
    monkeypatch.setenv("DILPOSE_RETRAIN_SINCE", str(time.time()))
    cache.train_cached(_cfg(), seqs)  # older than the request: trained again
    cache.train_cached(_cfg(), seqs)  # trained in this run: reused
    assert len(fits) == 2


def test_code_version_ignores_layout_comments_and_docstrings():
    a = 'def f(x):\n    """Doc."""\n    return x + 1  # one\n'
    b = "def f(x):\n\n    # a comment\n    return (x\n            + 1)\n"
    c = "def f(x):\n    return x + 2\n"
    assert cache._code_only(a) == cache._code_only(b) != cache._code_only(c)


def test_auto_precision_shares_the_model_of_its_resolved_precision(seqs, reports, monkeypatch):
    from dilpose import precision

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    fits = _count_fits(monkeypatch)
    cache.train_cached(_cfg(precision="bf16", epochs=1), seqs)
    _, trained = cache.train_cached(_cfg(precision="auto", epochs=1), seqs)
    assert not trained and len(fits) == 1  # auto is bf16 on this CPU: the same model
    _, trained = cache.train_cached(_cfg(precision="fp32", epochs=1), seqs)
    assert trained and len(fits) == 2


# --------------------------------------------------------------------------------------------------
# The key changes only when the numbers can (edits are made on a copy of the package's source,
# which the key is pointed at; the tracked files are never touched)
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def code_copy(tmp_path, monkeypatch):
    """A copy of the package's source that :func:`cache.code_version` reads, and an editor for it
    that finds the file defining a given object (wherever the code layout puts it)."""
    root = tmp_path / "pkg"
    shutil.copytree(Path(cache.__file__).parent, root, ignore=shutil.ignore_patterns("resources"))
    monkeypatch.setattr(cache, "CODE_ROOT", root)

    def edit(obj, old: str, new: str) -> None:
        rel = Path(inspect.getsourcefile(obj)).relative_to(Path(cache.__file__).parent)
        path = root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))

    return edit


def test_progress_messages_and_reporting_edits_do_not_retrain(
    seqs, reports, monkeypatch, code_copy
):
    from dilpose import callbacks, evaluate

    fits = _count_fits(monkeypatch)
    cache.train_cached(_cfg(), seqs)
    base = cache.code_version()
    code_copy(callbacks.LineProgress, "final training loss", "last training loss")  # progress
    code_copy(evaluate.table_i, '"MPJPE (mm), Human3.6M"', '"MPJPE in mm, Human3.6M"')  # reporting
    code_copy(evaluate.aggregate, '"frame_mean": float(', '"frame_mean_mm": float(')  # reporting
    code_copy(checkpoints.load_checkpoint, '"checkpoint not found"', '"no such checkpoint"')
    # wording of an error and a docstring in the training code itself
    code_copy(train.Trainer, "needs unlabelled sequences", "requires unlabelled sequences")
    code_copy(train.train_step, "One optimisation step", "A single optimisation step")
    assert cache.code_version() == base
    _, trained = cache.train_cached(_cfg(), seqs)
    assert not trained and len(fits) == 1


@pytest.mark.parametrize(
    "what,old,new",
    [
        ("step", "optimizer.zero_grad(set_to_none=True)", "optimizer.zero_grad(set_to_none=False)"),
        ("flip", "out[..., 0] *= -1", "out[..., 1] *= -1"),
        ("precision", "dtype=torch.bfloat16", "dtype=torch.float16"),
    ],
)
def test_changing_the_step_the_flip_or_the_precision_code_retrains(
    seqs, reports, monkeypatch, code_copy, what, old, new
):
    from dilpose import precision, skeleton

    where = {"step": train.train_step, "flip": skeleton.flip, "precision": precision.autocast}
    fits = _count_fits(monkeypatch)
    cache.train_cached(_cfg(), seqs)
    base = cache.code_version()
    code_copy(where[what], old, new)
    assert cache.code_version() != base
    _, trained = cache.train_cached(_cfg(), seqs)
    assert trained and len(fits) == 2


def test_the_keyed_code_covers_every_module_the_training_code_imports():
    # A module the keyed code imports is either keyed or listed with the reason it cannot change
    # the trained weights: a new import forces that decision.
    root = Path(cache.__file__).parent
    keyed = {name[: -len(".py")] for name in cache.KEYED_CODE}
    for name in cache.KEYED_CODE:
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module] if node.module else [a.name for a in node.names]
                for target in targets:
                    top = target.split(".")[0]
                    assert top in keyed or top in cache.UNKEYED_CODE, f"{name} imports {target}"


# --------------------------------------------------------------------------------------------------
# Integrity: a damaged entry is refused and retrained; paths and disks fail cleanly
# --------------------------------------------------------------------------------------------------
def _entry_files(reports):
    finished = [
        p for p in (reports / "checkpoints").glob("*.pt") if len(p.stem) == 20 and "." not in p.stem
    ]
    assert len(finished) == 1
    return finished[0], finished[0].with_suffix(".json")


def _rewrite(model_file, sidecar, change, record_checksum: bool):
    ckpt = torch.load(model_file, weights_only=True)
    change(ckpt)
    model_file.unlink()  # a new inode: the name aliases keep the old model
    torch.save(ckpt, model_file)
    if record_checksum:  # the record agrees with the damaged file: only the content check can tell
        record = json.loads(sidecar.read_text())
        record["weights_sha256"] = fileio.sha256(model_file)
        sidecar.write_text(json.dumps(record))


def _nan(ckpt):
    next(iter(ckpt["model"].values())).view(-1)[0] = float("nan")


def _scaled(ckpt):
    for v in ckpt["model"].values():
        if v.is_floating_point():
            v.mul_(10)


@pytest.mark.parametrize(
    "damage", ["nan weights", "checksum mismatch", "truncated", "record missing"]
)
def test_a_damaged_entry_is_refused_with_one_line_and_retrained(
    seqs, reports, monkeypatch, capsys, damage
):
    fits = _count_fits(monkeypatch)
    first, _ = cache.train_cached(_cfg(), seqs, name="main")
    expected = checkpoints.weights_checksum(first.model)
    model_file, sidecar = _entry_files(reports)
    if damage == "nan weights":
        _rewrite(model_file, sidecar, _nan, record_checksum=True)
    elif damage == "checksum mismatch":
        _rewrite(model_file, sidecar, _scaled, record_checksum=False)
    elif damage == "truncated":
        data = model_file.read_bytes()
        model_file.unlink()
        model_file.write_bytes(data[: len(data) // 2])
        _rewrite_record = json.loads(sidecar.read_text())
        _rewrite_record["weights_sha256"] = fileio.sha256(model_file)
        sidecar.write_text(json.dumps(_rewrite_record))
    else:
        sidecar.unlink()
    capsys.readouterr()
    again, trained = cache.train_cached(_cfg(), seqs, name="main")
    err = capsys.readouterr().err
    assert trained and len(fits) == 2
    refused = [line for line in err.splitlines() if "refused" in line]
    assert len(refused) == 1 and model_file.name in refused[0] and "Traceback" not in err
    assert checkpoints.weights_checksum(again.model) == expected  # the same seed, the same model
    assert checkpoints.weights_checksum(
        checkpoints.model_from_checkpoint(reports / "checkpoints" / "main.pt")
    ) == pytest.approx(expected)


@pytest.mark.parametrize("where", ["model", "alias"])
def test_a_directory_at_a_cache_path_fails_before_training(seqs, reports, monkeypatch, where):
    cache.train_cached(_cfg(), seqs, name="main")
    model_file, sidecar = _entry_files(reports)
    for f in (reports / "checkpoints").iterdir():
        f.unlink()
    target = model_file if where == "model" else reports / "checkpoints" / "main.pt"
    target.mkdir()
    fits = _count_fits(monkeypatch)
    with pytest.raises(DataError, match="is a directory") as e:
        cache.train_cached(_cfg(), seqs, name="main")
    assert len(fits) == 0 and str(target) in str(e.value) and "\n" not in str(e.value)


def test_a_cache_hit_leaves_no_temporary_files(seqs, reports):
    cache.train_cached(_cfg(), seqs, name="main")
    for _ in range(2):
        _, trained = cache.train_cached(_cfg(), seqs, name="main")
        assert not trained
    left = sorted(p.name for p in (reports / "checkpoints").iterdir() if p.name.endswith(".tmp"))
    assert left == []


def test_a_full_disk_fails_with_one_line_and_leaves_nothing_half_written(
    seqs, reports, monkeypatch
):
    real_save = torch.save

    def save_until_full(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save_until_full)
    with pytest.raises(DataError, match="No space left on device") as e:
        cache.train_cached(_cfg(), seqs, name="main")
    assert ".partial.pt" in str(e.value) and "\n" not in str(e.value)
    assert [p.name for p in (reports / "checkpoints").iterdir()] == []
    # The model trains; then the name alias cannot be written (no links, no room for a copy).
    monkeypatch.setattr(torch, "save", real_save)

    def no_link(*a, **k):
        raise OSError(errno.EPERM, "Operation not permitted")

    def copy_until_full(src, dst, *a, **k):
        Path(dst).write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(shutil, "copyfile", copy_until_full)
    with pytest.raises(DataError, match="No space left on device") as e:
        cache.train_cached(_cfg(), seqs, name="main")
    assert "main.pt" in str(e.value) and "\n" not in str(e.value)
    names = sorted(p.name for p in (reports / "checkpoints").iterdir())
    assert not any(n.endswith(".tmp") for n in names) and "main.pt" not in names


def test_a_read_only_cache_still_serves_its_models(seqs, reports, monkeypatch):
    cache.train_cached(_cfg(), seqs, name="main")

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # every atomic write starts here
    _, trained = cache.train_cached(_cfg(), seqs, name="main")
    assert not trained
    # a model that must be trained fails at once, naming the file
    fits = _count_fits(monkeypatch)
    with pytest.raises(DataError, match="Read-only file system") as e:
        cache.train_cached(_cfg(seed=5), seqs, name="other")
    assert len(fits) == 0 and ".partial.pt" in str(e.value)


def test_a_notebooks_settings_table_is_not_code_but_the_model_config_is(code_copy):
    base = cache.code_version()
    # a notebook's settings reach the key as the values they set, not as code
    code_copy(
        config.for_notebook,
        '"03": {"default": {"filter_widths"',
        '"03": {"smoke": {"filter_widths"',
    )
    assert cache.code_version() == base
    code_copy(config.ModelConfig.dilations, "range(1, len(self.filter_widths))", "range(1, 2)")
    assert cache.code_version() != base
