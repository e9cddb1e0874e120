"""Film motion capture through any camera: the virtual cameras of the camera-robust lifters, and the
fixed camera families of the camera benchmark (:mod:`dilpose.camera_bench`).

Video datasets are filmed once, by their own cameras; motion capture has the true 3D of every frame,
so it can be filmed again by any camera we choose. Models trained only on Human3.6M's four cameras
(focal length about 2.3 in screen units, 1.4-1.9 m high, pitched 11-16 degrees down) read a person
filmed through a wider lens as a smaller person: notebook 06's shop cameras shrink their predicted
skeletons to about half size.

**Training cameras** (:class:`CameraDistribution`, :func:`draw_camera`): every training clip is
rendered through ``views`` cameras, each drawn afresh for that clip and view (the embedded data's
332 training clips at 8 views see about 2,700 cameras), with the same detector-noise model as the
embedded data (:mod:`dilpose.noise`, whose jitter scales with the person's size in the image). A
camera is not drawn per window: the 2D of a window depends on the frames around it, so a camera
must hold for a whole clip, as it does in a video.

**Camera families** (:data:`FAMILIES`): five fixed kinds of camera a user meets, each as four
views around the person, for the benchmark. Human3.6M's own cameras are the dataset's (the
paper's protocol); the other four are placed relative to each clip (see :func:`family_cameras`).

World frame: Z up, floor at z = 0, metres (:mod:`dilpose.datasets.mocap_import`).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from . import input_norm
from . import skeleton as sk
from .camera import Camera
from .datasets.base import ExampleViews, PoseData, Sequence, coco_3d
from .datasets.shop_scene import CAMERA_HEIGHT, LOOK_AT, ROOM, matrix_to_quaternion
from .errors import DataError
from .noise import NoiseConfig, apply_detector_noise, fill_gaps

#: Image sizes (width, height) px drawn with equal odds: phone video landscape and portrait, laptop
#: webcams, old 4:3 surveillance cameras, and Human3.6M's near-square frames.
IMAGE_SIZES = (
    (1920, 1080),
    (1280, 720),
    (1080, 1920),
    (720, 1280),
    (640, 480),
    (1280, 960),
    (1000, 1002),
)


@dataclass(frozen=True)
class CameraDistribution:
    """The cameras the camera-robust lifters are trained through, with the reason for each range.

    All draws are uniform over the stated range.
    """

    # Horizontal field of view (degrees, across the image's width): 25 is a short telephoto (a
    # 80 mm-equivalent lens, a shop camera zoomed on an aisle); 120 an action camera. Phones'
    # main cameras are about 65-75 landscape, 40-45 portrait; laptop webcams 60-80.
    hfov_deg: tuple[float, float] = (25.0, 120.0)
    # Camera height above the floor (m): from a camera on the floor to a shop's ceiling.
    height_m: tuple[float, float] = (0.3, 3.6)
    # Distance to the clip's centre (m), as a multiple of the distance at which the person and
    # the clip's whole trajectory just fit in the image (:func:`fit_distance`): 1 frames them
    # tightly, 2.2 leaves them small in a wide view. Never nearer than ``min_distance_m``.
    distance_factor: tuple[float, float] = (1.0, 2.2)
    min_distance_m: float = 1.5
    # Roll about the optical axis (degrees): a handheld or badly mounted camera.
    roll_deg: tuple[float, float] = (-10.0, 10.0)
    # Aim: the camera looks at a point this high (m) above the clip's centre, off by up to this
    # share of the half field of view sideways, so the person is not always centred.
    aim_height_m: tuple[float, float] = (0.6, 1.3)
    aim_offset: float = 0.35
    # Barrel distortion k1 grows with the field of view (wide lenses bend lines): k1 = -strength
    # * clip((hfov - 50) / 60, 0, 1), strength drawn here; k2 = -k1 / 4 (the usual sign pattern).
    distortion_strength: tuple[float, float] = (0.0, 0.3)
    # Principal point offset from the image centre, SD as a share of the width (calibrations
    # put it within about 1 %).
    center_sd: float = 0.01

    def to_dict(self) -> dict:
        return {**asdict(self), "image_sizes": [list(s) for s in IMAGE_SIZES]}


def look_at(
    name: str,
    position,
    target,
    res: tuple[int, int],
    focal: float,
    center: tuple[float, float] | None = None,
    radial: tuple[float, float, float] = (0.0, 0.0, 0.0),
    roll_deg: float = 0.0,
) -> Camera:
    """A camera at ``position`` (3,) m looking at ``target`` (3,) m, rolled ``roll_deg`` about its
    axis; camera axes x right, y down, z forward (:mod:`dilpose.camera`). focal: pixels."""
    position, target = np.asarray(position, float), np.asarray(target, float)
    z = target - position
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-6:  # looking straight down or up: any horizontal x will do
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    r = math.radians(roll_deg)
    x, y = math.cos(r) * x + math.sin(r) * y, -math.sin(r) * x + math.cos(r) * y
    q = matrix_to_quaternion(np.stack([x, y, z], axis=1))
    w, h = res
    return Camera(
        id=name,
        res_w=int(w),
        res_h=int(h),
        focal_length=(float(focal), float(focal)),
        center=(w / 2.0, h / 2.0) if center is None else tuple(map(float, center)),
        radial_distortion=tuple(map(float, radial)),
        tangential_distortion=(0.0, 0.0),
        orientation=tuple(q),
        translation=tuple(position),
        azimuth=float(np.degrees(np.arctan2(z[1], z[0]))),
    )


def clip_extent(positions: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(centre (3,) on the floor, horizontal radius m, top m) of a clip (T, J, 3) world metres: the
    mean root position, how far any joint strays from it horizontally, and the highest joint."""
    pos = np.asarray(positions, dtype=np.float64)
    centre = np.array([*pos[:, 0, :2].mean(0), 0.0])
    radius = float(np.linalg.norm(pos[..., :2] - centre[:2], axis=-1).max())
    return centre, radius, float(pos[..., 2].max())


def fit_distance(hfov_deg: float, res: tuple[int, int], radius: float, top: float) -> float:
    """Distance (m) at which a clip of horizontal ``radius`` and height ``top`` just fits in a
    camera of ``hfov_deg`` and image size ``res``: each half of the field of view must hold the
    radius across and half the height up."""
    half_h = math.radians(hfov_deg) / 2
    half_v = math.atan(math.tan(half_h) * res[1] / res[0])
    return max(radius / math.tan(half_h), 0.6 * top / math.tan(half_v)) + radius


def draw_camera(
    rng: np.random.Generator,
    positions: np.ndarray,
    dist: CameraDistribution = CameraDistribution(),
    name: str = "virtual",
) -> Camera:
    """One camera from ``dist`` for a clip (T, J, 3) world metres (:class:`CameraDistribution`)."""
    res = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
    hfov = rng.uniform(*dist.hfov_deg)
    focal = res[0] / 2 / math.tan(math.radians(hfov) / 2)
    centre, radius, top = clip_extent(positions)
    distance = max(
        dist.min_distance_m,
        fit_distance(hfov, res, radius, top) * rng.uniform(*dist.distance_factor),
    )
    yaw = rng.uniform(0, 2 * math.pi)
    height = rng.uniform(*dist.height_m)
    position = centre + [distance * math.cos(yaw), distance * math.sin(yaw), height]
    target = centre + [0.0, 0.0, rng.uniform(*dist.aim_height_m)]
    # aim off-centre: move the target sideways by a share of the half view at that distance
    side = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
    target = target + side * rng.uniform(-1, 1) * dist.aim_offset * distance * math.tan(
        math.radians(hfov) / 2
    )
    k1 = -rng.uniform(*dist.distortion_strength) * float(np.clip((hfov - 50) / 60, 0, 1))
    c = np.array(res, float) / 2 + rng.normal(0, dist.center_sd * res[0], 2)
    return look_at(
        name,
        position,
        target,
        res,
        focal,
        tuple(c),
        (k1, -k1 / 4, 0.0),
        rng.uniform(*dist.roll_deg),
    )


# --------------------------------------------------------------------------------------------------
# Fixed camera families (the benchmark)
# --------------------------------------------------------------------------------------------------
#: family -> (title, what it stands for). "h36m" is the dataset's own cameras.
FAMILIES = {
    "h36m": ("Human3.6M cameras", "the paper's protocol: each subject's four Human3.6M cameras"),
    "shop": (
        "shop ceiling cameras",
        "notebook 06's shop: 1280x960, 620 px focal (hfov 92 deg), 3.5 m up, 25 deg down, "
        "barrel distortion k1 -0.18",
    ),
    "phone": (
        "phone at chest height",
        "portrait 1080x1920, 1450 px focal (hfov 41 deg), 1.3 m up, 3 m away",
    ),
    "webcam": (
        "laptop webcam",
        "1280x720, 914 px focal (hfov 70 deg), on a desk 0.75 m up, 3 m away",
    ),
    "action": (
        "wide action camera",
        "1920x1080, 577 px focal (hfov 118 deg), strong barrel distortion (k1 -0.28), 1.6 m up, "
        "2.5 m away",
    ),
}


# The shop's geometry relative to its look-at point (dilpose.datasets.shop_scene): a corner camera
# 0.2 m in from the room's corner.
_SHOP_DISTANCE = math.hypot(LOOK_AT[0] - (ROOM[0][0] + 0.2), LOOK_AT[1] - (ROOM[0][1] + 0.2))
#: family -> its lens, image size and placement (:data:`FAMILIES` says the same in words): image
#: size px, focal length px, radial distortion (k1, k2, k3), horizontal distance to the clip's
#: centre m (before the clip's radius is added), camera height m, height aimed at m.
_FAMILY_SPECS = {
    "shop": dict(res=(1280, 960), focal=620.0, radial=(-0.18, 0.03, 0.0),
                 distance=_SHOP_DISTANCE, height=CAMERA_HEIGHT, aim=LOOK_AT[2]),
    "phone": dict(res=(1080, 1920), focal=1450.0, radial=(0.0, 0.0, 0.0),
                  distance=3.0, height=1.3, aim=1.0),
    "webcam": dict(res=(1280, 720), focal=914.0, radial=(-0.02, 0.0, 0.0),
                   distance=3.0, height=0.75, aim=1.0),
    "action": dict(res=(1920, 1080), focal=577.0, radial=(-0.28, 0.07, 0.0),
                   distance=2.5, height=1.6, aim=1.0),
}  # fmt: skip


def family_cameras(family: str, positions: np.ndarray) -> list[Camera]:
    """The four views of a camera ``family`` (not ``h36m``) for a clip (T, J, 3) world metres.

    The views stand at four yaws around the clip's centre (45, 135, 225, 315 degrees); a clip that
    wanders is filmed from further back by its radius (:func:`clip_extent`), as a user steps back
    to keep someone in view, so each family keeps its lens and height on every clip.
    """
    if family not in _FAMILY_SPECS:
        raise DataError("camera families", f"unknown family {family!r}; known: {list(FAMILIES)}")
    spec = _FAMILY_SPECS[family]
    centre, radius, _ = clip_extent(positions)
    cams = []
    for k, yaw_deg in enumerate((45.0, 135.0, 225.0, 315.0)):
        yaw, d = math.radians(yaw_deg), spec["distance"] + radius
        position = centre + [d * math.cos(yaw), d * math.sin(yaw), spec["height"]]
        cams.append(
            look_at(
                f"{family}-{k + 1}",
                position,
                centre + [0, 0, spec["aim"]],
                spec["res"],
                spec["focal"],
                radial=spec["radial"],
            )
        )
    return cams


# --------------------------------------------------------------------------------------------------
# Rendering into model-ready sequences
# --------------------------------------------------------------------------------------------------
def render_sequence(
    data: PoseData,
    subject: str,
    action: str,
    view: int,
    cam: Camera,
    rng: np.random.Generator,
    noise: NoiseConfig | None,
    convention: str,
) -> Sequence:
    """One clip through ``cam``: COCO-17 2D with detector noise (gaps filled as the embedded data's
    are), in ``convention`` (:mod:`dilpose.input_norm`), and the H36M-17 3D in camera space."""
    pos = data.positions_3d[subject][action]
    if data.face_3d is None:
        raise DataError(data.name, "virtual cameras need the COCO face points (the embedded data)")
    clean = cam.project(coco_3d(pos, data.face_3d[subject][action]))
    if noise is None:
        kp, scores = clean, np.ones(clean.shape[:2])
    else:
        noisy, scores, _ = apply_detector_noise(clean, rng, noise)
        kp, _ = fill_gaps(noisy, scores, source=f"{subject}/{action}/{cam.id}")
    return Sequence(
        subject,
        action,
        view,
        keypoints_2d=input_norm.camera_input(kp, convention, cam).astype(np.float32),
        positions_3d=cam.world_to_camera(pos).astype(np.float32),
        intrinsics=cam.intrinsic_vector().astype(np.float32),
        scores=np.asarray(scores, dtype=np.float32),
        category=data.category(action),
    )


def _clips(data: PoseData, subjects):
    """(clip seed, subject, action) of every clip of ``subjects``. The seed is a checksum of the
    clip's name, not its position in the data, so a clip renders the same whichever subjects are
    loaded with it."""
    for subject in subjects:
        data._check_subject(subject)
        for action in data.actions(subject):
            yield zlib.crc32(f"{subject}/{action}".encode()), subject, action


def virtual_sequences(
    data: PoseData,
    subjects,
    views: int = 8,
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
    convention: str = input_norm.SCREEN,
    dist: CameraDistribution = CameraDistribution(),
) -> list[Sequence]:
    """Every clip of ``subjects`` through ``views`` cameras drawn from ``dist``, each clip and view
    its own camera and noise stream (seeded by ``seed`` and the clip's name, so a subset of
    subjects is rendered as in the full set)."""
    input_norm.check_convention(convention)
    out = []
    for clip, subject, action in _clips(data, subjects):
        pos = data.positions_3d[subject][action]
        for v in range(views):
            rng = np.random.default_rng([seed, 26, clip, v])
            cam = draw_camera(rng, pos, dist, name=f"virtual-{v + 1}")
            out.append(render_sequence(data, subject, action, v, cam, rng, noise, convention))
    if not out:
        raise DataError(data.name, f"no clips for subjects {list(subjects)}")
    return out


def family_sequences(
    data: PoseData,
    subjects,
    family: str,
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
    convention: str = input_norm.SCREEN,
) -> list[Sequence]:
    """Every clip of ``subjects`` through the four views of ``family`` (:data:`FAMILIES`).

    ``h36m`` gives the dataset's own 2D (the same detections notebook 02 evaluates on), in
    ``convention``; the other families are rendered with noise streams seeded by ``seed``, the
    family and the clip, the same for every model compared."""
    input_norm.check_convention(convention)
    if family == "h36m":
        return _dataset_sequences(data, subjects, convention)
    fam = list(FAMILIES).index(family)
    out = []
    for clip, subject, action in _clips(data, subjects):
        for v, cam in enumerate(family_cameras(family, data.positions_3d[subject][action])):
            rng = np.random.default_rng([seed, 27, fam, clip, v])
            out.append(render_sequence(data, subject, action, v, cam, rng, noise, convention))
    return out


def _dataset_sequences(data: PoseData, subjects, convention: str) -> list[Sequence]:
    """The dataset's own views of ``subjects``, its 2D re-normalised in ``convention``."""
    out = []
    for _, subject, action in _clips(data, subjects):
        for c, cam in enumerate(data.cameras[subject]):
            pos = data.positions_3d[subject][action]
            out.append(
                Sequence(
                    subject,
                    action,
                    c,
                    keypoints_2d=input_norm.camera_input(
                        data.keypoints[subject][action][c], convention, cam
                    ).astype(np.float32),
                    positions_3d=cam.world_to_camera(pos).astype(np.float32),
                    intrinsics=cam.intrinsic_vector().astype(np.float32),
                    scores=np.asarray(data.scores[subject][action][c], dtype=np.float32),
                    category=data.category(action),
                )
            )
    return out


#: Virtual cameras per training clip for the camera-robust models (shipped and notebook 06's), each
#: drawn afresh for its clip and view, beside the clip's four Human3.6M views. Sixteen rather than
#: eight: with the focal model, 16 views brought the shop's MPJPE from 113.5 to 111.0 mm at 40
#: epochs (issue 26); the training set is 5x the Human3.6M-only one, so training takes about twice
#: as long as with 8.
TRAINING_VIEWS = 16


def training_set(
    data: PoseData,
    subjects,
    views: int = TRAINING_VIEWS,
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
    convention: str = input_norm.SCREEN,
) -> list[Sequence]:
    """The camera-robust lifters' training set: every clip of ``subjects`` through its subject's
    four Human3.6M cameras (the dataset's own detections, so the paper's protocol loses nothing)
    and through ``views`` virtual cameras (:func:`virtual_sequences`), in ``convention``: a third
    of the windows from the paper's cameras, the rest (with 16 views, four fifths) from the wider
    range."""
    return _dataset_sequences(data, subjects, convention) + virtual_sequences(
        data, subjects, views=views, seed=seed, noise=noise, convention=convention
    )


def example_views(
    data: PoseData,
    subject: str,
    action: str,
    views: int = 4,
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
) -> ExampleViews:
    """One clip through the first ``views`` virtual cameras :func:`virtual_sequences` draws for
    it (the same cameras and noise streams), for figures: clean and detected (T, 17, 2) pixels,
    detected NaN where the detector missed a joint."""
    if data.face_3d is None:
        raise DataError(data.name, "virtual cameras need the COCO face points (the embedded data)")
    pos = data.positions_3d[subject][action]
    clip = next(c for c, s, a in _clips(data, (subject,)) if a == action)
    clean_3d = coco_3d(pos, data.face_3d[subject][action])
    cams, clean, detected = [], [], []
    for v in range(views):
        rng = np.random.default_rng([seed, 26, clip, v])
        cam = draw_camera(rng, pos, name=f"virtual-{v + 1}")
        px = cam.project(clean_3d)
        cams.append(cam)
        clean.append(px)
        detected.append(px.copy() if noise is None else apply_detector_noise(px, rng, noise)[0])
    return ExampleViews(cams, clean, detected, sk.COCO17, sk.COCO17)


def image_scale(seqs: list[Sequence]) -> np.ndarray:
    """How large one metre at the person looks in the screen-normalised input, every frame: the
    camera's normalised focal length over the root's depth (sum of T,), units per metre. A person
    1.7 m tall is 1.7 times this high in the model's input, whatever they are doing."""
    return np.concatenate([s.intrinsics[0] / s.positions_3d[:, 0, 2] for s in seqs])
