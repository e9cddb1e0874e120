"""A simulated smart shop in the shop format (:mod:`dilpose.datasets.shop_format`), built from the
real motion capture of the default data: the stand-in for HRI-I, which is not public. Everything it
produces is labelled "simulated shop (CMU and HDM05 motion)", never HRI-I.

* **The shop and its 26 people** (:mod:`dilpose.datasets.shop_scene`): a 10 m x 6 m room with
  shelves and four ceiling cameras; people with their own bone lengths, onto which every clip is
  retargeted.
* **Six scenarios**, each a sequence of real clips adapted to the shop (:func:`scenario_take`):
  ``walk`` (CMU walking and turning, turned and placed along an aisle); ``hunker`` (HDM05 squats,
  and CMU 13's squats for the test people); ``fetch(stand)`` (HDM05 ``grabHighR``: the right hand
  moved onto an item on a high board by analytic two-bone IK, the offset faded in and out with the
  reach itself); ``fetch(hunker)`` (HDM05 ``depositFloorR``, onto an item on a low board);
  ``hold(stand)`` and ``hold(hunker)`` (the walking and squatting clips with both hands on a held
  box, IK'd to points that ride a smoothed torso frame). Motion comes from the default data's test
  subjects for the shop's test people and from its training subjects for the others, so no clip is
  seen by both sides of either split.
* **2D** (:func:`render`): COCO-17 projections through the four cameras, the detector-noise model
  (:mod:`dilpose.noise`), then shelf occlusion by ray tests: an occluded joint gets a low confidence
  and a larger error, and is missed in bursts; a joint outside the image is missed.

:func:`build` writes the folder (seeded: the same seed writes the same files); :func:`ensure`
builds it into ``data/shop_sim/`` when it is missing or was built by other code or data
(``make data`` rebuilds it with ``python -m dilpose.datasets.shop_sim``; it is not committed: 2D
detections of 4 cameras do not compress).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from .. import paths
from ..camera import Camera
from ..fileio import sha256
from ..kinematics import cmu_to_coco17
from ..noise import NoiseConfig, _bursts, apply_detector_noise, jitter_sigma
from .mocap_files import FPS, DefaultData, default_files
from .mocap_files import load as load_mocap_files
from .shop_format import ACTIONS, MANIFEST, SIM_SUBJECTS, SIM_TEST_SUBJECTS, read, write
from .shop_scene import (
    AISLE_X,
    AISLES,
    BOARDS,
    HEAD,
    ITEM_ABOVE_BOARD,
    L_ARM,
    L_FOOT,
    NECK,
    PELVIS,
    R_ARM,
    R_FOOT,
    SHELVES,
    THORAX,
    bone_vector,
    facing,
    make_people,
    occluded,
    retarget,
    rotate_z,
    shop_cameras,
    smooth,
    two_bone_ik,
)

SEED = 0
#: Frames each person performs of each scenario, at least (takes are added until reached):
#: 26 people x 6 scenarios x 110 = 17,160 or more poses.
FRAMES_PER_SCENARIO = 110
#: What the simulated shop's results credit (its manifest and the dataset's spec show it).
CREDIT = (
    "Simulated from CMU and HDM05 motion. The data used in this project was obtained from "
    "mocap.cs.cmu.edu (NSF EIA-0196217) and from HDM05 (Müller et al., Technical report "
    "CG-2007-2, Universität Bonn, 2007; CC BY-SA 3.0)."
)


# --------------------------------------------------------------------------------------------------
# Source motion
# --------------------------------------------------------------------------------------------------
def squat_segments(positions: np.ndarray, margin: int = 40) -> list[tuple[int, int]]:
    """(start, stop) frames around each squat of a long clip (CMU 13's warm-ups): where the
    pelvis drops below 75 % of its median height, with ``margin`` frames either side."""
    z = positions[:, PELVIS, 2]
    low = z < 0.75 * np.median(z)
    edges = np.diff(np.concatenate([[0], low.astype(int), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [
        (max(0, a - margin), min(len(z), b + margin)) for a, b in zip(starts, stops) if b - a >= 5
    ]


def source_pools(
    data: DefaultData,
) -> dict[tuple[str, str], list[tuple[str, str, int, int]]]:
    """``{(split, pool): [(subject, action, start, stop), ...]}``: the real clips (or parts) each
    scenario draws from, for the test people (the default data's test subjects) and the others.
    Pools: ``walk`` (CMU walking), ``squat`` (HDM05 squats, CMU 13's squats), ``grab_high`` (HDM05
    grabHighR), ``deposit`` (HDM05 depositFloorR)."""
    pools: dict[tuple[str, str], list] = {}
    test = set(data.test_subjects)
    for clip in data.meta["clips"]:
        s, a, label = clip["subject"], clip["action"], clip["manifest_label"]
        split = "test" if s in test else "train"
        n = len(data.positions_3d[s][a])
        if clip["source"] == "cmu" and clip["category"] == "walk":
            pools.setdefault((split, "walk"), []).append((s, a, 0, n))
        elif label == "squat1Reps":
            pools.setdefault((split, "squat"), []).append((s, a, 0, n))
        elif label == "grabHighR":
            pools.setdefault((split, "grab_high"), []).append((s, a, 0, n))
        elif label == "depositFloorR":
            pools.setdefault((split, "deposit"), []).append((s, a, 0, n))
        elif clip["source"] == "cmu" and "squat" in label:
            pos = data.positions_3d[s][a]
            for start, stop in squat_segments(pos):
                pools.setdefault((split, "squat"), []).append((s, a, start, stop))
    return {k: sorted(v) for k, v in pools.items()}


#: Scenario -> the pool its motion comes from.
SCENARIO_POOL = {
    "walk": "walk",
    "hunker": "squat",
    "fetch(stand)": "grab_high",
    "fetch(hunker)": "deposit",
    "hold(stand)": "walk",
    "hold(hunker)": "squat",
}
WALK_FRAMES = 150  # 3 s windows of the walking clips


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------
def _walk_window(pos: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """The straightest of a few random windows of :data:`WALK_FRAMES` (least sideways spread of
    the pelvis path about its start-end line), so that it fits an aisle."""
    n = len(pos)
    if n <= WALK_FRAMES:
        return 0, n
    best, best_spread = (0, WALK_FRAMES), np.inf
    for start in rng.integers(0, n - WALK_FRAMES + 1, size=6):
        path = pos[start : start + WALK_FRAMES, PELVIS, :2]
        d = path[-1] - path[0]
        d = d / max(np.linalg.norm(d), 1e-6)
        spread = np.abs((path - path[0]) @ np.array([-d[1], d[0]])).max()
        if spread < best_spread:
            best, best_spread = (int(start), int(start) + WALK_FRAMES), spread
    return best


def _place_in_aisle(pos, face, rng, along: bool):
    """Turn a clip about the vertical and move it into a random aisle: ``along``, its start-end
    direction along the aisle (walking), else a random heading around a random spot (in place)."""
    aisle_y, half = AISLES[rng.integers(len(AISLES))]
    pivot = pos[0, PELVIS].copy()
    pivot[2] = 0.0
    if along:
        d = pos[-1, PELVIS, :2] - pos[0, PELVIS, :2]
        angle = -np.arctan2(d[1], d[0]) + (np.pi if rng.random() < 0.5 else 0.0)
    else:
        angle = rng.uniform(-np.pi, np.pi)
    pos, face = rotate_z(pos, angle, pivot), rotate_z(face, angle, pivot)
    path = pos[:, PELVIS, :2]
    lo_x, hi_x = AISLE_X[0] - path[:, 0].min(), AISLE_X[1] - path[:, 0].max()
    x = rng.uniform(lo_x, hi_x) if hi_x > lo_x else (lo_x + hi_x) / 2
    y_room = max(half - 0.55 - np.ptp(path[:, 1]) / 2, 0.0)
    y = aisle_y + rng.uniform(-y_room, y_room) - (path[:, 1].min() + path[:, 1].max()) / 2
    shift = np.array([x, y, 0.0])
    return pos + shift, face + shift


def _shelf_faces():
    return [(shelf, axis, coord, sign) for shelf in SHELVES for axis, coord, sign in shelf.faces]


def fetch(pos, face, rng, boards, low: bool):
    """Face a shelf and move the right hand onto an item there, as the clip reaches (up, or down
    when ``low``): the frame where the wrist is highest (lowest) is the grasp; the hand's offset to
    the item fades in and out with the reach (its progress between rest and grasp heights) and the
    arm follows by :func:`two_bone_ik`. Returns positions, face points and the take's facts."""
    z = pos[:, R_ARM[2], 2]
    tp = int(np.argmin(z) if low else np.argmax(z))
    shelf, axis, coord, sign = _shelf_faces()[rng.integers(len(_shelf_faces()))]
    normal = np.zeros(3)
    normal[axis] = sign
    # turn the person to face the shelf at the grasp (facing = -normal)
    f = facing(pos)[tp]
    angle = np.arctan2(-normal[1], -normal[0]) - np.arctan2(f[1], f[0])
    pivot = pos[tp, PELVIS] * [1, 1, 0]
    pos, face = rotate_z(pos, angle, pivot), rotate_z(face, angle, pivot)
    # move the person so the wrist at the grasp is over a spot of the shelf's front, then back off
    # until the trunk, head and feet keep 5 cm from the face in every frame
    grasp = pos[tp, R_ARM[2]]
    other = 1 - axis
    item = np.zeros(3)
    item[axis] = coord + sign * 0.03  # the item stands at the front, the hand grasps it 3 cm out
    item[other] = rng.uniform(shelf.lo[other] + 0.6, shelf.hi[other] - 0.6)
    shift = item - grasp
    shift[2] = 0.0
    pos, face = pos + shift, face + shift
    body = [PELVIS, 7, THORAX, NECK, HEAD, R_FOOT, L_FOOT]
    depth = sign * (pos[:, body, axis] - coord)  # > 0 in front of the face
    back = max(0.0, 0.05 - float(depth.min()))
    pos[..., axis] += sign * back
    face[..., axis] += sign * back
    # the item's board: the one nearest the grasp height among those the arm can reach from
    # where the shoulder is at the grasp (the nearest one if none can be reached)
    shoulder, arm = pos[tp, R_ARM[0]], bone_vector(pos)[[R_ARM[1], R_ARM[2]]].sum()
    heights = np.array(boards) + ITEM_ABOVE_BOARD
    spots = np.repeat(item[None], len(heights), 0)
    spots[:, 2] = heights
    reach = np.linalg.norm(spots - shoulder, axis=-1)
    ok = reach <= 0.97 * arm
    pick = (
        np.argmin(np.where(ok, np.abs(heights - grasp[2]), np.inf))
        if ok.any()
        else np.argmin(reach)
    )
    item = spots[pick]
    # the reach's progress: 0 at rest (the clip's first and last frames), 1 at the grasp
    z = pos[:, R_ARM[2], 2]
    rest = np.median(np.concatenate([z[:5], z[-5:]]))
    w = (
        np.clip((z - rest) / (z[tp] - rest), 0.0, 1.0)
        if abs(z[tp] - rest) > 1e-3
        else np.ones(len(z))
    )
    w = smooth(w, 5)
    w[tp] = 1.0
    target = pos[:, R_ARM[2]] + w[:, None] * (item - pos[tp, R_ARM[2]])
    s, e, h = R_ARM
    pos[:, e], pos[:, h], reachable = two_bone_ik(pos[:, s], pos[:, e], pos[:, h], target)
    return (
        pos,
        face,
        {
            "shelf": shelf.name,
            "item_m": [round(float(v), 3) for v in item],
            "grasp_frame": tp,
            "item_reached": bool(reachable[tp]),
            "hand_to_item_mm": round(1000 * float(np.linalg.norm(pos[tp, h] - item)), 1),
        },
    )


def hold(pos, face, rng, low: bool):
    """Both hands on a held box that rides in front of the torso: the box's grip points follow a
    smoothed torso frame (thorax position and shoulder line over 15 frames, so the hands move
    smoothly), and both arms reach them by :func:`two_bone_ik`."""
    # the box's size and where it is held scale with the arm (upper arm + forearm), so that every
    # build can hold it: its grip points lie about 0.75 arm lengths from the shoulders
    arm = bone_vector(pos)[[R_ARM[1], R_ARM[2]]].sum()
    width = rng.uniform(0.26, 0.40)
    ahead = arm * rng.uniform(0.45, 0.60)
    below = arm * (rng.uniform(0.50, 0.65) if not low else rng.uniform(0.40, 0.55))
    thorax = smooth(pos[:, THORAX], 15)
    left = smooth(pos[:, L_ARM[0]] - pos[:, R_ARM[0]], 15)
    left[:, 2] = 0.0
    left /= np.maximum(np.linalg.norm(left, axis=-1, keepdims=True), 1e-9)
    fwd = np.cross(left, [0.0, 0.0, 1.0])
    centre = thorax + ahead * fwd - [0.0, 0.0, below]
    reach = []
    for arm, side in ((L_ARM, +1), (R_ARM, -1)):
        s, e, h = arm
        target = centre + side * width / 2 * left
        pos[:, e], pos[:, h], ok = two_bone_ik(pos[:, s], pos[:, e], pos[:, h], target)
        reach.append(ok)
    return (
        pos,
        face,
        {
            "box_width_m": round(float(width), 3),
            "hands_on_box_fraction": round(float(np.mean(reach[0] & reach[1])), 3),
        },
    )


def scenario_take(scenario, data, source, person, rng):
    """One take of ``scenario`` by ``person`` from the source clip part ``(subject, action, start,
    stop)``: (T, 17, 3) world metres, (T, 5, 3) face points, and its facts (JSON)."""
    s, a, start, stop = source
    pos = data.positions_3d[s][a][start:stop].astype(np.float64)
    face = data.face_3d[s][a][start:stop].astype(np.float64)
    if SCENARIO_POOL[scenario] == "walk":
        w0, w1 = _walk_window(pos, rng)
        pos, face = pos[w0:w1], face[w0:w1]
        start, stop = start + w0, start + w1
    pos, face = retarget(pos, face, person["lengths"])
    facts = {"source": f"{s}/{a}", "source_frames": [int(start), int(stop)]}
    if scenario.startswith("fetch"):
        low = scenario == "fetch(hunker)"
        boards = BOARDS[:2] if low else BOARDS[2:]
        pos, face, more = fetch(pos, face, rng, boards, low)
    else:
        pos, face = _place_in_aisle(pos, face, rng, along=SCENARIO_POOL[scenario] == "walk")
        more = {}
        if scenario.startswith("hold"):
            pos, face, more = hold(pos, face, rng, low=scenario == "hold(hunker)")
    return pos, face, {**facts, **more}


# --------------------------------------------------------------------------------------------------
# 2D
# --------------------------------------------------------------------------------------------------
#: What a shelf does to an occluded joint's detection: its confidence is multiplied by this ...
OCCLUDED_SCORE = 0.3
#: ... its error grows by this many jitter sigmas (fixed direction per burst-free stretch) ...
OCCLUDED_ERROR_SIGMAS = 3.0
#: ... and it is missed in bursts starting at this rate per frame (mean length 8 frames).
OCCLUDED_MISS_RATE = 0.08


def render(
    coco: np.ndarray, cam: Camera, rng: np.random.Generator, noise: NoiseConfig = NoiseConfig()
) -> dict[str, np.ndarray]:
    """One camera's detections of COCO-17 3D joints (T, 17, 3) world metres: ``keypoints`` (T, 17,
    2) px (0 where missed), ``scores`` (T, 17) (0 = missed), ``clean`` (T, 17, 2) px, and the masks
    ``occluded``, ``outside`` and ``missed`` (T, 17)."""
    clean = cam.project(coco)
    noisy, scores, events = apply_detector_noise(clean, rng, noise)
    occ = occluded(cam.position(), coco)
    sigma = jitter_sigma(clean, noise)
    push = rng.standard_normal((17, 2))
    noisy = np.where(occ[..., None], noisy + OCCLUDED_ERROR_SIGMAS * sigma[..., None] * push, noisy)
    scores = np.where(occ, scores * OCCLUDED_SCORE, scores)
    outside = ~((clean >= 0) & (clean <= [cam.res_w, cam.res_h])).all(-1)
    missed = events["missing"] | outside | (occ & _bursts(rng, occ.shape, OCCLUDED_MISS_RATE, 8.0))
    # a joint the detector never finds in a whole take cannot be interpolated: keep its best
    # frame as a low-confidence guess (counted in the manifest)
    never = missed.all(0)
    for j in np.flatnonzero(never):
        t = int(np.argmin(np.linalg.norm(clean[:, j] - clean[:, j].mean(0), axis=-1)))
        missed[t, j] = False
        noisy[t, j] = clean[t, j]
        scores[t, j] = 0.05
    noisy = np.where(missed[..., None] | ~np.isfinite(noisy), 0.0, noisy)
    scores = np.where(missed, 0.0, np.maximum(scores, 0.01))
    return {
        "keypoints": noisy,
        "scores": scores,
        "clean": clean,
        "occluded": occ,
        "outside": outside,
        "missed": missed,
        "kept_guesses": int(never.sum()),
    }


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------
def default_dir() -> Path:
    """Where the simulated shop is built: ``data/shop_sim/`` (not committed)."""
    return paths.DATA_DIR / "shop_sim"


def fingerprint(seed: int = SEED, frames: int = FRAMES_PER_SCENARIO, people=SIM_SUBJECTS) -> str:
    """What the simulated shop is made from: this module's, the noise model's and the camera
    code's source, the default data's files, and the build's settings (16 hex digits)."""
    h = hashlib.sha256()
    for module in (
        "datasets/shop_sim.py",
        "datasets/shop_scene.py",
        "datasets/shop_format.py",
        "noise.py",
        "camera.py",
    ):
        h.update((paths.PACKAGE_DIR / module).read_bytes())
    for f in default_files():
        h.update(sha256(f).encode())
    h.update(json.dumps([seed, frames, list(people)]).encode())
    return h.hexdigest()[:16]


def simulate(
    seed: int = SEED,
    frames: int = FRAMES_PER_SCENARIO,
    people=SIM_SUBJECTS,
    data: DefaultData | None = None,
) -> dict:
    """Everything :func:`build` writes, in memory: ``cameras``, ``clips`` (per person and take, the
    format's arrays plus ``face_3d``, ``occluded``, ``clean_2d``), ``subjects`` (metadata) and
    ``stats``."""
    data = data if data is not None else load_mocap_files()
    rng = np.random.default_rng(seed)
    cams = shop_cameras()
    everyone = make_people(
        data, rng, names=people, test=[p for p in people if p in SIM_TEST_SUBJECTS]
    )
    pools = source_pools(data)
    clips, subjects = {}, {}
    counts = {"occluded": 0, "missed": 0, "outside": 0, "points": 0, "kept_guesses": 0}
    for p_idx, (name, person) in enumerate(everyone.items()):
        split = person["meta"]["split"]
        clips[name], takes_meta = {}, {}
        for a_idx, scenario in enumerate(ACTIONS):
            pool = pools[(split, SCENARIO_POOL[scenario])]
            done, take = 0, 0
            while done < frames:
                take_rng = np.random.default_rng([seed, p_idx, a_idx, take])
                source = pool[int(take_rng.integers(len(pool)))]
                pos, face, facts = scenario_take(scenario, data, source, person, take_rng)
                coco = cmu_to_coco17(pos, face)
                views = [
                    render(coco, cam, np.random.default_rng([seed, p_idx, a_idx, take, c]))
                    for c, cam in enumerate(cams)
                ]
                key = f"{scenario} {take + 1:02d}"
                clips[name][key] = {
                    "positions_3d": pos,
                    "face_3d": face,
                    "keypoints_2d": np.stack([v["keypoints"] for v in views]),
                    "scores_2d": np.stack([v["scores"] for v in views]),
                    "labels": np.full(len(pos), ACTIONS.index(scenario)),
                    "clean_2d": np.stack([v["clean"] for v in views]),
                    "occluded": np.stack([v["occluded"] for v in views]),
                }
                for k in ("occluded", "missed", "outside"):
                    counts[k] += int(sum(v[k].sum() for v in views))
                counts["points"] += sum(v["missed"].size for v in views)
                counts["kept_guesses"] += sum(v["kept_guesses"] for v in views)
                takes_meta[key] = facts
                done += len(pos)
                take += 1
        subjects[name] = {**person["meta"], "takes": takes_meta}
    stats = {k: counts[k] / counts["points"] for k in ("occluded", "missed", "outside")}
    stats["kept_guesses"] = counts["kept_guesses"]
    return {"cameras": cams, "clips": clips, "subjects": subjects, "stats": stats}


def build(
    out_dir: str | Path | None = None,
    seed: int = SEED,
    frames: int = FRAMES_PER_SCENARIO,
    people=SIM_SUBJECTS,
    data: DefaultData | None = None,
) -> Path:
    """Simulate the shop and write it in the shop format to ``out_dir`` (default
    :func:`default_dir`); returns the manifest's path."""
    out_dir = Path(out_dir) if out_dir is not None else default_dir()
    sim = simulate(seed, frames, people, data)
    fields = ("positions_3d", "keypoints_2d", "scores_2d", "labels")
    clips = {
        s: {k: {f: c[f] for f in fields} for k, c in takes.items()}
        for s, takes in sim["clips"].items()
    }
    about = {
        "title": "simulated shop (CMU and HDM05 motion)",
        "simulated": True,
        "not": "HRI-I (not public): a simulation built from real motion capture",
        "credit": CREDIT,
        "generator": {
            "module": "dilpose.datasets.shop_sim",
            "seed": seed,
            "frames_per_scenario": frames,
            "fingerprint": fingerprint(seed, frames, people),
            "noise": NoiseConfig().to_dict(),
            "occlusion": {
                "score_factor": OCCLUDED_SCORE,
                "error_sigmas": OCCLUDED_ERROR_SIGMAS,
                "miss_rate": OCCLUDED_MISS_RATE,
            },
            "stats": sim["stats"],
        },
        "shelves": [{"name": s.name, "lo": list(s.lo), "hi": list(s.hi)} for s in SHELVES],
        "boards_m": list(BOARDS),
    }
    return write(out_dir, sim["cameras"], clips, sim["subjects"], ACTIONS, FPS, about)


def ensure(out_dir: str | Path | None = None) -> Path:
    """The simulated shop's folder, built first when it is missing or was built from other code,
    data or settings (its manifest's fingerprint differs)."""
    out_dir = Path(out_dir) if out_dir is not None else default_dir()
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        try:
            current = json.loads(manifest.read_text())["generator"]["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError):
            current = None
        if current == fingerprint():
            return out_dir
    build(out_dir)
    return out_dir


def main() -> None:
    """``python -m dilpose.datasets.shop_sim`` (``make data``): rebuild ``data/shop_sim/`` and
    summarise."""
    path = build()
    data = read(path.parent)
    frames = {a: 0 for a in ACTIONS}
    for takes in data["clips"].values():
        for key, clip in takes.items():
            frames[key.split(" ")[0]] += len(clip["labels"])
    size = sum(f.stat().st_size for f in path.parent.iterdir()) / 1e6
    print(
        f"wrote {path.parent} ({size:.1f} MB): {len(data['clips'])} people, "
        f"{sum(frames.values())} poses at {FPS:g} Hz; per action {frames}",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
