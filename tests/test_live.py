"""``dilpose lift - --stream`` against hostile lines (issue 24): every bad line is answered with an
error line and changes nothing, the stream never ends on a traceback, memory stays bounded whatever
a line holds, and what file mode refuses the stream refuses before its first frame."""

from __future__ import annotations

import dataclasses
import io
import json
import tracemalloc

import numpy as np
import pytest
import torch

from dilpose import checkpoints, cli, live
from dilpose import skeleton as sk
from dilpose.errors import DataError
from dilpose.model import ModelConfig, TemporalModel

W = H = 1000


def _save(path, nan: bool = False):
    torch.manual_seed(0)
    mcfg = ModelConfig(filter_widths=(3, 3), channels=16, causal=True)
    state = TemporalModel(mcfg).state_dict()
    if nan:
        next(v for v in state.values() if v.is_floating_point())[0] = float("nan")
    ckpt = {
        "model": state,
        "model_config": dataclasses.asdict(mcfg),
        "epoch": 0,
        "input": checkpoints.input_spec(sk.COCO17),
    }
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """An untrained causal COCO-17 checkpoint (random weights: the stream's plumbing is tested,
    not the poses)."""
    return _save(tmp_path_factory.mktemp("live") / "causal.pt")


def _frames(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(300, 700, (17, 2))
    return [
        {"frame": t, "keypoints": [[x, y, 0.9] for x, y in (base + rng.normal(0, 3, (17, 2)))]}
        for t in range(n)
    ]


def _text(frames) -> list[str]:
    return [json.dumps(f) for f in frames]


def _run(monkeypatch, capsys, ckpt, lines: list[str | bytes]):
    """cli ``lift - --stream`` on ``lines`` given as raw bytes on a UTF-8 stdin: (exit code, the
    output lines parsed as strict JSON, stderr)."""
    data = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    args = ["lift", "-", "--stream", "--checkpoint", str(ckpt), "--width", str(W)]
    code = cli.main(args + ["--height", str(H)])
    captured = capsys.readouterr()
    strict = {"parse_constant": lambda c: pytest.fail(f"output holds {c}")}
    return code, [json.loads(line, **strict) for line in captured.out.splitlines()], captured.err


def _poses(replies) -> np.ndarray:
    return np.array([r["positions_3d"] for r in replies if "error" not in r])


def _check_only_the_bad_line_fails(monkeypatch, capsys, ckpt, bad, match: str):
    """Good lines around ``bad``: one error line matching ``match`` at its place, and the good
    lines' poses exactly as without it."""
    good = _text(_frames(8))
    _, clean, _ = _run(monkeypatch, capsys, ckpt, good)
    code, mixed, err = _run(monkeypatch, capsys, ckpt, good[:4] + [bad] + good[4:])
    assert code == 2 and len(mixed) == 9, err
    assert [("error" in r) for r in mixed] == [False] * 4 + [True] + [False] * 4
    assert mixed[4]["line"] == 5
    assert match in mixed[4]["error"] and "<stdin> line 5: " in err
    np.testing.assert_array_equal(_poses(mixed), _poses(clean))
    return mixed[4]


def test_a_refused_line_asking_for_a_reset_does_not_reset(ckpt, monkeypatch, capsys):
    bad = _frames(1, seed=3)[0]
    bad["reset"] = True
    bad["keypoints"][5][2] = 0.0  # after a reset the left shoulder would never have been seen
    _check_only_the_bad_line_fails(monkeypatch, capsys, ckpt, json.dumps(bad), "l_shoulder")


def test_a_good_reset_line_does_reset(ckpt, monkeypatch, capsys):
    frames = _frames(6)
    frames[3]["reset"] = True
    _, out, _ = _run(monkeypatch, capsys, ckpt, _text(frames))
    _, fresh, _ = _run(monkeypatch, capsys, ckpt, _text(frames[3:]))
    np.testing.assert_array_equal(_poses(out)[3:], _poses(fresh))


@pytest.mark.parametrize(
    "bad, match",
    [
        ("[1" + "0" * 400 + "," + ", ".join(["1"] * 50) + "]", "more than 18 digits"),
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        (b'{"keypoints": [\xff\xfe]}', "not UTF-8 text"),
        ('{"keypoints": [1e999' + ", 1" * 50 + "]}", "non-finite keypoint"),
        (json.dumps({"keypoints": [[1e300, 1e300, 1]] * 17}), "50 image widths outside"),
        (json.dumps({"keypoints": [[0.1, -0.2, 1]] * 17}), "look normalised already"),
        (json.dumps({"keypoints": [0] * 51, "frame": [[1]]}), "'frame' should be an integer"),
        (json.dumps({"keypoints": [0] * 51, "frame": float("nan")}), "'frame' should be"),
        (json.dumps({"keypoints": [0] * 51, "reset": "yes" * 100}), "got str"),
        (json.dumps({"keypoints": [0] * 51, "x" * 1000: 1}), "unknown key(s) ['xxxxx"),
    ],
    ids=[
        "401-digit-int",
        "nested-200000",
        "not-utf8",
        "1e999",
        "1e300-pixels",
        "normalised",
        "frame-list",
        "frame-nan",
        "reset-str",
        "long-key",
    ],
)
def test_a_hostile_line_gets_an_error_line_and_the_stream_goes_on(
    ckpt, monkeypatch, capsys, bad, match
):
    reply = _check_only_the_bad_line_fails(monkeypatch, capsys, ckpt, bad, match)
    assert len(reply["error"]) < 300  # the message quotes none of the line's contents


def test_an_over_long_line_is_skipped_unread(ckpt, monkeypatch, capsys):
    huge = '{"keypoints": [' + "1, " * (live.MAX_LINE_BYTES // 3) + "1]}"
    _check_only_the_bad_line_fails(monkeypatch, capsys, ckpt, huge, "longer than 1048576 bytes")


def test_reading_a_100_mb_line_holds_at_most_the_line_limit():
    data = b"[" + b"1," * (50 << 20) + b"1]\n[2]\n"
    tracemalloc.start()
    try:
        lines = list(live.bounded_lines(io.BytesIO(data), limit=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(lines[0], live.LineTooLong) and lines[1:] == [b"[2]"]
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB for a 100 MB line"


def test_a_line_at_the_limit_is_read_and_crlf_is_stripped():
    lines = list(live.bounded_lines(io.BytesIO(b"abc\r\nabcd\nabcde\nab"), limit=4))
    assert lines[:2] == [b"abc", b"abcd"] and isinstance(lines[2], live.LineTooLong)
    assert lines[3:] == [b"ab"]
    assert list(live.bounded_lines(io.StringIO("x\ny\n"), limit=4)) == ["x", "y"]


def test_a_nan_weight_checkpoint_is_refused_before_the_first_frame(tmp_path, monkeypatch, capsys):
    bad = _save(tmp_path / "nan.pt", nan=True)
    code, out, err = _run(monkeypatch, capsys, bad, _text(_frames(3)))
    assert code == 2 and out == []
    assert f"{bad}: weights are not finite" in err


def test_a_bad_image_size_is_refused_before_the_first_frame(ckpt):
    for w in (float("nan"), 0, -5, True):
        with pytest.raises(DataError, match="width must be a positive number"):
            live.stream_lines([], io.StringIO(), io.StringIO(), ckpt, width=w, height=100)


def test_a_stream_lifts_on_one_thread_and_gives_the_threads_back(ckpt, monkeypatch):
    # per-frame work is small: one intra-op thread (stream.STREAM_THREADS), restored afterwards
    from dilpose import stream

    seen, before = [], torch.get_num_threads()
    original = live._Live.lift

    def spy(self, line):
        seen.append(torch.get_num_threads())
        return original(self, line)

    monkeypatch.setattr(live._Live, "lift", spy)
    torch.set_num_threads(2)
    try:
        lines = _text(_frames(5))
        summary = live.stream_lines(lines, io.StringIO(), io.StringIO(), ckpt, width=W, height=H)
        assert seen == [stream.STREAM_THREADS] * 5 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert summary["threads"] == 1 and summary["latency_p99_ms"] >= summary["latency_p95_ms"]
