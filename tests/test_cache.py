"""The model cache: a variant trained once is loaded the next time; changing one setting retrains
exactly that variant; an interrupted run continues from its last epoch; RETRAIN trains again
once."""

import os
import time

import pytest

from dilpose import cache, config, datasets, train
from dilpose import skeleton as sk


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
    a, trained = train.train_cached(_cfg(), seqs, name="main")
    assert trained and len(fits) == 1
    # profile is only a name
    b, trained = train.train_cached(_cfg(profile="default"), seqs, name="other")
    assert not trained and len(fits) == 1
    assert train.weights_checksum(a.model) == train.weights_checksum(b.model)
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
    train.train_cached(_cfg(), seqs)
    train.train_cached(_cfg(**change), seqs)
    train.train_cached(_cfg(), seqs)
    train.train_cached(_cfg(**change), seqs)
    assert len(fits) == 2


def test_the_key_depends_on_data_layout_and_code(seqs):
    base = cache.entry(_cfg(), seqs, sk.COCO17, {"name": "supervised", "params": {}}).key
    assert (
        cache.entry(_cfg(), seqs[:-1], sk.COCO17, {"name": "supervised", "params": {}}).key != base
    )
    assert cache.entry(_cfg(), seqs, sk.H36M17, {"name": "supervised", "params": {}}).key != base
    assert cache.entry(_cfg(), seqs, sk.COCO17, {"name": "semi", "params": {}}).key != base
    assert (
        cache.entry(
            _cfg(device="cuda", eval_cameras=(1,)),
            seqs,
            sk.COCO17,
            {"name": "supervised", "params": {}},
        ).key
        == base
    )
    assert len(cache.code_version()) == 16


def test_an_interrupted_run_continues_from_its_last_epoch(seqs, reports, monkeypatch):
    full, _ = train.train_cached(_cfg(epochs=3), seqs)
    expected = train.weights_checksum(full.model)
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
    resumed, trained = train.train_cached(
        _cfg(epochs=3), seqs, callbacks=[lambda t, log: epochs_run.append(log.epoch)]
    )
    assert trained and epochs_run == [2, 3]  # epoch 1 was not trained again
    assert train.weights_checksum(resumed.model) == expected
    assert not entry.partial.exists() and entry.model.is_file()


def test_retrain_trains_every_model_once(seqs, reports, monkeypatch):
    fits = _count_fits(monkeypatch)
    train.train_cached(_cfg(), seqs)
    time.sleep(0.01)
    monkeypatch.setenv("DILPOSE_RETRAIN_SINCE", str(time.time()))
    train.train_cached(_cfg(), seqs)  # older than the request: trained again
    train.train_cached(_cfg(), seqs)  # trained in this run: reused
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
    train.train_cached(_cfg(precision="bf16", epochs=1), seqs)
    _, trained = train.train_cached(_cfg(precision="auto", epochs=1), seqs)
    assert not trained and len(fits) == 1  # auto is bf16 on this CPU: the same model
    _, trained = train.train_cached(_cfg(precision="fp32", epochs=1), seqs)
    assert trained and len(fits) == 2
