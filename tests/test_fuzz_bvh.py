"""Property-based fuzzing of dilpose.bvh.parse_bvh and forward_kinematics.

Start from a small valid BVH (built below), damage it - truncation at any byte, bit flips, and
structural edits (lines deleted, duplicated, swapped or inserted; tokens replaced by random text or
extreme numbers; the Frames count changed; braces unbalanced) - and require that:

* ``parse_bvh`` either succeeds or raises :class:`DataError` whose message starts with the file
  path; any other exception (IndexError, OverflowError, a ValueError from ``int()``...) is a bug;
* what parses is consistent (F >= 1 finite rows of the declared width, a finite positive frame rate)
  and ``forward_kinematics`` on it returns finite arrays or raises DataError, without numpy
  RuntimeWarnings (overflow there means garbage positions returned silently);
* nothing hangs (hypothesis ``deadline``) and a huge ``Frames:`` count never allocates.

Each case is written to a fresh file from ``tempfile`` inside the test body, not pytest's
function-scoped ``tmp_path``, because hypothesis runs the body many times per test call.
``derandomize=True`` and ``database=None`` make the runs the same on every machine and leave no
``.hypothesis`` folder behind.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dilpose import bvh, kinematics
from dilpose.errors import DataError

N_CHANNELS = 6 + 3 + 3 + 4


def _base_text() -> str:
    """A valid BVH: a 6-channel root, a spine chain with a non-ZYX joint, a leg with an X position
    channel, two end sites; 3 frames of 16 channel values."""
    rows = [
        [0.0] * N_CHANNELS,
        [
            1.5,
            90.2,
            -3.0,
            10.0,
            -20.0,
            30.0,
            5.0,
            0.0,
            -5.0,
            12.5,
            0.0,
            7.0,
            0.25,
            45.0,
            0.0,
            -45.0,
        ],
        [
            3.0,
            91.0,
            -6.0,
            20.0,
            -40.0,
            60.0,
            10.0,
            1.0,
            -10.0,
            25.0,
            3.0,
            14.0,
            0.5,
            90.0,
            1.0,
            -90.0,
        ],
    ]
    lines = [
        "HIERARCHY",
        "ROOT Hips",
        "{",
        "\tOFFSET 0.0 0.0 0.0",
        "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation",
        "\tJOINT Spine",
        "\t{",
        "\t\tOFFSET 0.0 5.0 0.0",
        "\t\tCHANNELS 3 Zrotation Xrotation Yrotation",
        "\t\tJOINT Head",
        "\t\t{",
        "\t\t\tOFFSET 0.0 4.0 0.5",
        "\t\t\tCHANNELS 3 Zrotation Yrotation Xrotation",
        "\t\t\tEnd Site",
        "\t\t\t{",
        "\t\t\t\tOFFSET 0.0 2.0 0.0",
        "\t\t\t}",
        "\t\t}",
        "\t}",
        "\tJOINT LeftUpLeg",
        "\t{",
        "\t\tOFFSET 2.0 -1.0 0.0",
        "\t\tCHANNELS 4 Xposition Zrotation Yrotation Xrotation",
        "\t\tEnd Site",
        "\t\t{",
        "\t\t\tOFFSET 0.0 -8.0 0.0",
        "\t\t}",
        "\t}",
        "}",
        "MOTION",
        f"Frames: {len(rows)}",
        "Frame Time: 0.0083333",
    ] + [" ".join(f"{v:g}" for v in row) for row in rows]
    return "\n".join(lines) + "\n"


BASE = _base_text()
BASE_BYTES = BASE.encode()
BASE_LINES = BASE.splitlines()

# Numbers that have tripped parsers before: extreme and special floats, denormals whose reciprocal
# overflows, integers beyond int()'s 4300-digit limit, and non-ASCII "digits" (str.isdigit() is True
# for superscripts and circled digits, which int() refuses; it accepts Arabic-Indic and full-width
# ones).
SPECIAL_NUMBERS = [
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "1e309",
    "-1e309",
    "1e-320",
    "5e-324",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "-0",
    "-0.0",
    "0",
    "+0",
    "1_0",
    "0x10",
    "99999999999",
    "1000000000000000000",
    "9" * 30,
    "9" * 4400,
    "9" * 5000,
    "-1",
    "1e3",
    "3.0",
    "\u00b2",
    "\u0663",
    "\uff13",
    "\u2462",
    "",
]
# The format's own keywords and characters out of place.
SPECIAL_TOKENS = SPECIAL_NUMBERS + [
    "{",
    "}",
    "{}",
    "End",
    "Site",
    "ROOT",
    "JOINT",
    "OFFSET",
    "CHANNELS",
    "MOTION",
    "HIERARCHY",
    "Frames:",
    "Frame",
    "Time:",
    "Xrotation",
    "xposition",
    "Wrotation",
    "\x00",
    "\ufffd",
    "\u2028",
]
SPECIAL_LINES = [
    "{",
    "}",
    "}}",
    "End Site",
    "JOINT Extra",
    "ROOT Again",
    "CHANNELS 0",
    "CHANNELS 3",
    "OFFSET 1 2",
    "MOTION",
    "MOTION extra",
    "Frames: 5",
    "Frame Time: 0",
    "HIERARCHY",
    "",
]

number = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)
count = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.integers(min_value=0, max_value=20).map(str),
    st.integers(min_value=0, max_value=10**20).map(str),
)
# Frame times: mostly positive, where the interesting edges are (denormals, 1e308).
frame_time = st.one_of(
    st.floats(min_value=0.0, exclude_min=True).map(repr), st.sampled_from(SPECIAL_NUMBERS), number
)
token = st.one_of(st.sampled_from(SPECIAL_TOKENS), st.text(max_size=12), number)

FUZZ = settings(
    max_examples=400,
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_case(data: bytes) -> None:
    """Write ``data`` to a fresh file and check the properties in the module docstring."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.bvh"
        path.write_bytes(data)
        with warnings.catch_warnings():
            # A numpy overflow / invalid-value warning means garbage was computed silently: fail on
            # it.
            warnings.simplefilter("error", RuntimeWarning)
            try:
                motion = bvh.parse_bvh(path)
            except DataError as e:
                assert str(e).startswith(f"{path}: ") and e.problem, str(e)
                return
            F, C = motion.motion.shape
            assert F >= 1 and C == sum(map(len, motion.channels)) and motion.num_frames == F
            assert np.isfinite(motion.motion).all()
            assert np.isfinite(motion.fps) and motion.fps > 0
            try:
                positions, rotations = kinematics.forward_kinematics(motion)
            except DataError as e:
                assert str(e).startswith(f"{path}: "), str(e)
                return
            J = len(motion.joint_names)
            assert positions.shape == (F, J, 3) and rotations.shape == (F, J, 3, 3)
            assert np.isfinite(positions).all() and np.isfinite(rotations).all()


def test_base_file_parses_and_runs_through_forward_kinematics():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "base.bvh"
        path.write_text(BASE)
        m = bvh.parse_bvh(path)
        assert m.joint_names == ["Hips", "Spine", "Head", "Head_end", "LeftUpLeg", "LeftUpLeg_end"]
        assert m.motion.shape == (3, N_CHANNELS)
        positions, _ = kinematics.forward_kinematics(m, unit_to_m=1.0)
        np.testing.assert_allclose(positions[0, 3], [0.0, 11.0, 0.5])  # rest pose: offsets add up
    check_case(BASE_BYTES)


# -------------------------------------------------------------------------------------- byte damage


@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(BASE_BYTES)))
def test_truncated_at_any_byte(cut):
    check_case(BASE_BYTES[:cut])


@FUZZ
@given(
    flips=st.lists(
        st.integers(min_value=0, max_value=len(BASE_BYTES) * 8 - 1), min_size=1, max_size=8
    )
)
def test_bit_flips(flips):
    data = bytearray(BASE_BYTES)
    for bit in flips:
        data[bit // 8] ^= 1 << (bit % 8)
    check_case(bytes(data))


# -------------------------------------------------------------------------------- structural damage


def _index(draw, lines) -> int:
    return draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))


def _delete(draw, lines):
    if lines:
        del lines[_index(draw, lines)]


def _duplicate(draw, lines):
    if lines:
        i = _index(draw, lines)
        lines.insert(i, lines[i])


def _swap(draw, lines):
    if lines:
        i, j = _index(draw, lines), _index(draw, lines)
        lines[i], lines[j] = lines[j], lines[i]


def _insert(draw, lines):
    lines.insert(
        draw(st.integers(0, len(lines))), draw(st.one_of(st.sampled_from(SPECIAL_LINES), token))
    )


def _replace_token(draw, lines):
    if lines:
        i = _index(draw, lines)
        toks = lines[i].split()
        new = draw(token)
        if toks:
            toks[draw(st.integers(0, len(toks) - 1))] = new
        else:
            toks = [new]
        lines[i] = " ".join(toks)


def _add_or_drop_token(draw, lines):
    if lines:
        i = _index(draw, lines)
        toks = lines[i].split()
        if toks and draw(st.booleans()):
            del toks[draw(st.integers(0, len(toks) - 1))]
        else:
            toks.insert(draw(st.integers(0, len(toks))), draw(token))
        lines[i] = " ".join(toks)


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _replace_number(draw, lines):
    """Any numeric token (offset, channel count, frame count or time, channel value) -> another
    number."""
    spots = [
        (i, k)
        for i, line in enumerate(lines)
        for k, tok in enumerate(line.split())
        if _is_number(tok)
    ]
    if spots:
        i, k = draw(st.sampled_from(spots))
        toks = lines[i].split()
        toks[k] = draw(number)
        lines[i] = " ".join(toks)


def _replace_many_numbers(draw, lines):
    """One number written into a random share of the OFFSET and channel values (e.g. every offset at
    1e308, so that sums along the chain overflow, which no single edit can do). Counts are left
    alone so that the file still gets past them."""
    value, rng = draw(number), draw(st.randoms(use_true_random=False))
    share = draw(st.sampled_from([0.2, 0.5, 1.0]))
    for i, line in enumerate(lines):
        toks = line.split()
        if toks and (toks[0] == "OFFSET" or _is_number(toks[0])):
            lines[i] = " ".join(
                value if _is_number(t) and rng.random() < share else t for t in toks
            )


def _set_count(draw, lines):
    """The count of a CHANNELS line or of the Frames line -> any count-like text."""
    spots = [i for i, line in enumerate(lines) if line.split()[:1] in (["CHANNELS"], ["Frames:"])]
    if spots:
        i = draw(st.sampled_from(spots))
        toks = lines[i].split()
        if len(toks) > 1:
            toks[1] = draw(count)
        lines[i] = " ".join(toks)


def _set_frame_time(draw, lines):
    for i, line in enumerate(lines):
        if line.startswith("Frame Time:"):
            lines[i] = f"Frame Time: {draw(frame_time)}"


def _unbalance_braces(draw, lines):
    braces = [i for i, line in enumerate(lines) if line.strip() in ("{", "}")]
    if braces and draw(st.booleans()):
        del lines[draw(st.sampled_from(braces))]
    else:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["{", "}"])))


MUTATIONS = [
    _delete,
    _duplicate,
    _swap,
    _insert,
    _replace_token,
    _add_or_drop_token,
    _replace_number,
    _replace_many_numbers,
    _set_count,
    _set_frame_time,
    _unbalance_braces,
]


@st.composite
def mutated_bvh(draw, min_edits: int = 1, max_edits: int = 1) -> bytes:
    """BASE after ``min_edits..max_edits`` random edits from MUTATIONS, as UTF-8 bytes."""
    lines = list(BASE_LINES)
    for _ in range(draw(st.integers(min_value=min_edits, max_value=max_edits))):
        draw(st.sampled_from(MUTATIONS))(draw, lines)
    # "surrogatepass": should a strategy ever yield a lone surrogate, write the bytes a broken
    # exporter would
    return ("\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))).encode(
        "utf-8", "surrogatepass"
    )


@settings(FUZZ, max_examples=1000)
@given(data=mutated_bvh())
def test_one_structural_mutation(data):
    # One edit at a time, so an early error (e.g. in the HIERARCHY) does not mask a later bug.
    check_case(data)


@settings(FUZZ, max_examples=600)
@given(data=mutated_bvh(min_edits=2, max_edits=5))
def test_several_structural_mutations(data):
    check_case(data)


@FUZZ
@given(data=mutated_bvh(max_edits=3), cut=st.floats(min_value=0.0, max_value=1.0))
def test_structural_mutations_then_truncation(data, cut):
    check_case(data[: int(len(data) * cut)])


# ---------------------------------------------------------------------------------- memory and time


@pytest.mark.parametrize("count", ["99999999999", str(10**18), "9" * 4000, "9" * 5000])
def test_huge_frames_count_fails_fast_without_allocating(count):
    text = BASE.replace("Frames: 3", f"Frames: {count}").rsplit("\n", 2)[0] + "\n"  # keep 2 rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "huge.bvh"
        path.write_text(text)
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            with pytest.raises(DataError) as info:
                bvh.parse_bvh(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert time.perf_counter() - t0 < 1.0
        assert peak < 2_000_000, f"parse_bvh allocated {peak} bytes for a 2-row file"
        assert str(info.value).startswith(f"{path}: ")
        assert "Frames" in info.value.problem
