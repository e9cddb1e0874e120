"""The published numbers this project compares with, in one place, each with its table and protocol.

Every number here is copied from a paper and labelled with where it comes from; nothing here is
measured. Results on other data than Human3.6M are never comparable with them (see notebook 02).
"""

from __future__ import annotations

#: Table I columns: Human3.6M's 15 actions as the paper abbreviates them, then the action-wise
#: average.
TABLE_I_COLUMNS = (
    "Dir.",
    "Disc.",
    "Eat",
    "Greet",
    "Phone",
    "Photo",
    "Posing",
    "Purch.",
    "Sit",
    "SitD.",
    "Smoke",
    "Wait",
    "WalkD.",
    "Walk",
    "WalkT.",
    "Avg",
)

#: The paper's Table I: MPJPE (mm, protocol 1) on Human3.6M, per action and averaged over actions.
PAPER_TABLE_I: dict[str, dict[str, float]] = {
    row: dict(zip(TABLE_I_COLUMNS, values))
    for row, values in (
        (
            "Pavlo et al. [11] CVPR'19",
            (
                45.2,
                46.7,
                43.3,
                45.6,
                48.1,
                55.1,
                44.6,
                44.3,
                57.3,
                65.8,
                47.1,
                44.0,
                49.0,
                32.8,
                33.9,
                46.8,
            ),
        ),
        (
            "Ours",
            (
                45.3,
                46.2,
                42.2,
                44.7,
                48.3,
                54.7,
                43.2,
                42.5,
                55.6,
                63.2,
                46.5,
                45.6,
                48.7,
                34.7,
                35.8,
                46.5,
            ),
        ),
        (
            "Ours (with Quantization)",
            (
                64.7,
                67.2,
                61.3,
                64.2,
                69.2,
                78.2,
                61.8,
                61.3,
                79.5,
                90.1,
                66.2,
                65.1,
                67.5,
                49.6,
                51.1,
                66.5,
            ),
        ),
    )
}


#: Headline numbers as (value, unit, source, protocol): what notebooks print beside a measurement.
PUBLISHED: dict[str, dict] = {
    "paper_mpjpe_h36m": {
        "value": 46.5,
        "unit": "mm",
        "what": "MPJPE, the paper's model (Liu & Ren), Human3.6M",
        "source": "paper, Table I, row 'Ours', column Avg",
        "protocol": "protocol 1 (MPJPE), 243 frames, CPN detections, S9 and S11",
    },
    "videopose3d_mpjpe_h36m": {
        "value": 46.8,
        "unit": "mm",
        "what": "MPJPE, VideoPose3D (Pavllo et al., CVPR'19), Human3.6M",
        "source": "paper, Table I, row 'Pavlo et al. [11]', column Avg",
        "protocol": "protocol 1 (MPJPE), 243 frames, CPN detections, S9 and S11",
    },
    "paper_quantized_mpjpe_h36m": {
        "value": 66.5,
        "unit": "mm",
        "what": "MPJPE, the paper's model after quantization, Human3.6M",
        "source": "paper, Table I, row 'Ours (with Quantization)', column Avg",
        "protocol": "protocol 1 (MPJPE)",
    },
}


def value(key: str) -> float:
    """The published value of ``key`` in :data:`PUBLISHED` (KeyError names the known keys)."""
    if key not in PUBLISHED:
        raise KeyError(f"unknown published number {key!r}; known: {sorted(PUBLISHED)}")
    return PUBLISHED[key]["value"]


def check_consistency() -> None:
    """The headline numbers equal the Table I cells they cite (a test calls this)."""
    assert PUBLISHED["paper_mpjpe_h36m"]["value"] == PAPER_TABLE_I["Ours"]["Avg"]
    assert (
        PUBLISHED["videopose3d_mpjpe_h36m"]["value"]
        == PAPER_TABLE_I["Pavlo et al. [11] CVPR'19"]["Avg"]
    )
    assert (
        PUBLISHED["paper_quantized_mpjpe_h36m"]["value"]
        == PAPER_TABLE_I["Ours (with Quantization)"]["Avg"]
    )
