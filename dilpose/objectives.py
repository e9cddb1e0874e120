"""What training minimises, pluggable: the trainer asks its objective for the loss of a batch.

An objective is a small object with a name and parameters (recorded in checkpoints and in the model
cache's key, like the regulariser), optional trainable modules of its own (a trajectory model, say:
the trainer optimises and checkpoints them with the lifting model) and one method::

    loss(net, batch, device) -> (scalar loss tensor, {"name": float, ...} to log)

``batch`` is a :class:`dilpose.batches.Batch` (labelled windows: 2D inputs and 3D targets) or, when
the trainer was given unlabelled sequences, a :class:`dilpose.batches.MixedBatch` holding one
labelled and one 2D-only batch. :class:`Supervised` is the paper's supervised MPJPE objective
(§IV-B). :class:`PoseTrajectory` adds a trajectory model trained with the paper's Eq. (1) (MPJPE
weighted by 1 / depth), and :class:`SemiSupervised` (notebook 04; VideoPose3D's scheme) adds, on
unlabelled 2D-only windows, the 2D reprojection error through the camera and a bone-length term.

Two hooks let an objective see what the trainer does: :meth:`Objective.check_data` (once, with the
training streams: the semi-supervised objective refuses an unlabelled stream whose 2D layout or
camera does not fit) and :meth:`Objective.start_epoch` (before every epoch: warm-up schedules).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from . import batches, camera, metrics
from . import skeleton as sk
from .config import ModelConfig
from .errors import DataError
from .model import TemporalModel, TemporalModelStrided


class Objective:
    """Base class. Subclasses set ``name``, implement :meth:`loss` and, if they have any, list their
    parameters in :meth:`params` and their trainable modules in :meth:`modules`."""

    name = "objective"
    #: True when the objective needs an unlabelled (2D-only) stream beside the labelled one.
    needs_unlabelled = False
    #: True when the unlabelled stream's batches must carry the detector confidence
    #: (:attr:`dilpose.batches.Batch.scores`).
    needs_scores = False

    def params(self) -> dict:
        """Plain-valued parameters (they go into checkpoints and cache keys)."""
        return {}

    def spec(self) -> dict:
        return {"name": self.name, "params": self.params()}

    def modules(self) -> list[nn.Module]:
        """Trainable modules besides the lifting model (optimised and checkpointed with it)."""
        return []

    def check_data(self, train, unlabelled, layout_2d: sk.Skeleton) -> None:
        """Called once by the trainer with its labelled and (possibly None) unlabelled sequences;
        raise :class:`DataError` for data this objective cannot train on."""

    def start_epoch(self, epoch: int) -> None:
        """Called by the trainer before every epoch (0-based, also after resuming)."""

    def loss(
        self, net: nn.Module, batch, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class Supervised(Objective):
    """MPJPE between predicted and true root-relative 3D joints of labelled windows (paper §IV-B).

    Logs ``loss_mm``: the batch's MPJPE in millimetres.
    """

    name = "supervised"

    def loss(self, net, batch, device):
        if batch.targets is None:
            raise ValueError(
                "the supervised objective needs labelled batches (3D targets); got 2D-only windows"
            )
        x = torch.from_numpy(batch.inputs).to(device, non_blocking=True)
        y = torch.from_numpy(batch.targets).to(device, non_blocking=True)
        # .float(): under bf16 autocast the network's output is bf16; the loss is taken in fp32.
        loss = metrics.mpjpe(net(x).float(), y)
        return loss, {"loss_mm": 1000.0 * float(loss.detach())}


# --------------------------------------------------------------------------------------------------
# Trajectory model and the paper's Eq. (1)
# --------------------------------------------------------------------------------------------------
#: Offset added to the run's seed to draw the trajectory model's initial weights (so that the pose
#: model's initial weights stay those of a supervised run with the same seed).
TRAJECTORY_SEED_OFFSET = 104_729


def trajectory_config(pose_cfg: ModelConfig) -> ModelConfig:
    """The trajectory model's architecture: the pose model's, with one output joint (the root's
    camera-space position, metres), as in VideoPose3D."""
    return dataclasses.replace(pose_cfg, out_joints=1)


def trajectory_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The paper's Eq. (1): ``mean(1 / y_z * ||f(x) - y||)`` over windows and frames.

    pred, target: (B, L, 1, 3) camera-space root positions (metres); the weight of a frame is the
    inverse of its *true* depth, so a subject twice as far counts half: its image, and so the
    evidence about its position, is half as large. Dimensionless (metres per metre of depth).
    """
    return metrics.weighted_mpjpe(pred, target, metrics.inverse_depth_weights(target))


class PoseTrajectory(Objective):
    """Supervised training of the pose model and a trajectory model on labelled windows.

    ``loss = MPJPE(pose) + trajectory_weight * Eq.(1)(trajectory)``. The trajectory model
    (:func:`trajectory_config`) is built here, from ``seed + TRAJECTORY_SEED_OFFSET`` without
    touching torch's global generator, and optimised and checkpointed with the pose model.

    Logs ``loss_mm`` (pose MPJPE, mm) and ``trajectory_mm`` (unweighted root error, mm).
    """

    name = "pose+trajectory"

    def __init__(self, pose_cfg: ModelConfig | dict, trajectory_weight: float = 1.0, seed: int = 0):
        if isinstance(pose_cfg, dict):
            pose_cfg = ModelConfig(**pose_cfg)
        self.pose_cfg = pose_cfg = pose_cfg.architecture()  # a run's Config is a ModelConfig
        self.trajectory_cfg = trajectory_config(pose_cfg)
        self.trajectory_weight = float(trajectory_weight)
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + TRAJECTORY_SEED_OFFSET)
            self.trajectory = TemporalModelStrided(self.trajectory_cfg)
        self.epoch = 0

    def params(self) -> dict:
        return {
            "pose_cfg": dataclasses.asdict(self.pose_cfg),
            "trajectory_weight": self.trajectory_weight,
            "seed": self.seed,
        }

    def modules(self) -> list[nn.Module]:
        return [self.trajectory]

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def trajectory_network(self) -> TemporalModel:
        """The whole-sequence trajectory model with the current weights, in eval mode (CPU)."""
        net = TemporalModel(self.trajectory_cfg)
        net.load_state_dict({k: v.cpu() for k, v in self.trajectory.state_dict().items()})
        return net.eval()

    def _labelled_loss(self, pose, traj, batch, device):
        y = torch.from_numpy(batch.targets).to(device, non_blocking=True)
        t = torch.from_numpy(batch.trajectory).to(device, non_blocking=True)
        loss_pose = metrics.mpjpe(pose, y)
        loss_traj = trajectory_loss(traj, t)
        logs = {
            "loss_mm": 1000.0 * float(loss_pose.detach()),
            "trajectory_mm": 1000.0 * float(metrics.mpjpe(traj.detach(), t)),
        }
        return loss_pose + self.trajectory_weight * loss_traj, logs

    def loss(self, net, batch, device):
        if hasattr(batch, "unlabelled"):  # given an unlabelled stream, it trains on none of it
            batch = batch.labelled
        if batch.targets is None or batch.trajectory is None:
            raise ValueError(
                f"the {self.name} objective needs labelled batches (3D targets and trajectory)"
            )
        x = torch.from_numpy(batch.inputs).to(device, non_blocking=True)
        return self._labelled_loss(net(x).float(), self.trajectory(x).float(), batch, device)


# --------------------------------------------------------------------------------------------------
# Reprojection (the decoder of the semi-supervised scheme)
# --------------------------------------------------------------------------------------------------
#: 2D joint names that mark the same point as a differently named H36M-17 joint.
_SAME_POINT = {"l_ankle": "l_foot", "r_ankle": "r_foot", "pelvis": "hip"}
#: Fewer shared joints than this cannot constrain a 3D pose and its position.
MIN_REPROJECTION_JOINTS = 8


def reprojection_joints(
    layout_2d: sk.Skeleton, layout_3d: sk.Skeleton = sk.H36M17
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(indices into layout_2d, indices into layout_3d)`` of the joints both layouts mark, by
    name (COCO's ankles are H36M's feet). COCO-17 -> H36M-17: the 12 body joints (COCO's face points
    have no H36M twin); H36M-17 -> itself: all 17. Raises :class:`DataError` when fewer than
    :data:`MIN_REPROJECTION_JOINTS` are shared."""
    idx_2d, idx_3d = [], []
    for j, name in enumerate(layout_2d.joint_names):
        name_3d = _SAME_POINT.get(name, name)
        if name_3d in layout_3d.joint_names:
            idx_2d.append(j)
            idx_3d.append(layout_3d.joint_names.index(name_3d))
    if len(idx_2d) < MIN_REPROJECTION_JOINTS:
        raise DataError(
            layout_2d.name,
            f"only {len(idx_2d)} of its joints have a twin in {layout_3d.name} "
            f"({MIN_REPROJECTION_JOINTS} needed to compare a reprojection with the 2D input)",
        )
    return tuple(idx_2d), tuple(idx_3d)


def reproject(pose: torch.Tensor, traj: torch.Tensor, intrinsics) -> torch.Tensor:
    """Camera-space 3D (root-relative pose + trajectory) -> normalised 2D, with distortion.

    pose: (B, L, 17, 3) metres; traj: (B, L, 1, 3) metres; intrinsics: (B, 9) normalised
    (:meth:`dilpose.camera.Camera.intrinsic_vector`). Returns (B, L, 17, 2) normalised screen
    coordinates through :func:`dilpose.camera.project_to_2d` (differentiable).
    """
    intrinsics = torch.as_tensor(intrinsics, dtype=pose.dtype, device=pose.device)
    return camera.project_to_2d(pose + traj, intrinsics)


def reprojection_error(pose, traj, intrinsics, keypoints_2d, layout_2d: sk.Skeleton, weights=None):
    """Mean distance (normalised screen units; x ``width / 2`` for pixels) between the 2D input and
    the reprojection of the shared joints (:func:`reprojection_joints`).

    keypoints_2d: (B, L, J_2d, 2) normalised, the frames the 3D belongs to. weights: None (every
    joint counts the same, as in VideoPose3D) or (B, L, J_2d) >= 0, e.g. the detector's confidence
    in each 2D joint: the error is then ``sum(w * distance) / sum(w)`` over the shared joints, so a
    joint of weight 0 (a missed detection, filled in by interpolation) has no influence. Returns a
    scalar (0 when every weight is 0).
    """
    idx_2d, idx_3d = reprojection_joints(layout_2d)
    projected = reproject(pose, traj, intrinsics)[..., list(idx_3d), :]
    target = torch.as_tensor(keypoints_2d, dtype=projected.dtype, device=projected.device)
    dist = torch.linalg.vector_norm(projected - target[..., list(idx_2d), :], dim=-1)
    if weights is None:
        return dist.mean()
    w = torch.as_tensor(weights, dtype=dist.dtype, device=dist.device)[..., list(idx_2d)]
    return (w * dist).sum() / w.sum().clamp_min(torch.finfo(dist.dtype).tiny)


def bone_length_penalty(
    labelled: torch.Tensor, unlabelled: torch.Tensor, layout: sk.Skeleton = sk.H36M17
) -> torch.Tensor:
    """VideoPose3D's bone-length term: mean over bones of ``|mean length in labelled predictions
    - mean length in unlabelled predictions|`` (metres). Without it a model can shrink or stretch
    the unlabelled subjects' skeletons freely along the viewing ray and still reproject well.

    labelled, unlabelled: (B, L, 17, 3) predicted poses."""
    parents = [p for p in layout.parents if p >= 0]
    children = [j for j, p in enumerate(layout.parents) if p >= 0]

    def mean_lengths(x):
        return (
            torch.linalg.vector_norm(x[..., children, :] - x[..., parents, :], dim=-1)
            .reshape(-1, len(children))
            .mean(0)
        )

    return (mean_lengths(labelled) - mean_lengths(unlabelled)).abs().mean()


class SemiSupervised(PoseTrajectory):
    """VideoPose3D's semi-supervised training, with the paper's Eq. (1) for the trajectory.

    Labelled windows: pose MPJPE + ``trajectory_weight`` x Eq. (1). After ``warmup_epochs``
    epochs, each step also passes the unlabelled windows through both models (in one batch with
    the labelled ones, so BatchNorm sees both, as in VideoPose3D), reprojects ``pose + trajectory``
    through each window's camera (intrinsics and distortion) and adds ``unlabelled_weight`` x
    (2D reprojection error against the window's 2D input + ``bone_weight`` x
    :func:`bone_length_penalty`). With ``unlabelled_weight = 0`` the unlabelled windows are never
    evaluated: training is then :class:`PoseTrajectory`'s, bit for bit. ``confidence_weighted``
    weights each joint's reprojection distance by the detector's confidence in that 2D joint
    (:func:`reprojection_error`; the unlabelled stream then carries the scores); off by default,
    as in VideoPose3D, whose reprojection is unweighted.

    Logs besides ``loss_mm`` and ``trajectory_mm``: ``reprojection`` (normalised units) and
    ``bone_m`` while the unlabelled term is on.
    """

    name = "semi-supervised"
    needs_unlabelled = True

    def __init__(
        self,
        pose_cfg: ModelConfig | dict,
        layout_2d: sk.Skeleton | str = sk.COCO17,
        warmup_epochs: int = 1,
        trajectory_weight: float = 1.0,
        unlabelled_weight: float = 1.0,
        bone_weight: float = 1.0,
        seed: int = 0,
        confidence_weighted: bool = False,
    ):
        super().__init__(pose_cfg, trajectory_weight, seed)
        self.layout_2d = sk.get(layout_2d) if isinstance(layout_2d, str) else layout_2d
        reprojection_joints(self.layout_2d)  # fail now for a layout that cannot be reprojected
        self.warmup_epochs = int(warmup_epochs)
        self.unlabelled_weight = float(unlabelled_weight)
        self.bone_weight = float(bone_weight)
        self.confidence_weighted = self.needs_scores = bool(confidence_weighted)
        # Index of the frame a window's output belongs to (its centre, or its last frame if causal).
        r = self.pose_cfg.receptive_field()
        self.output_frame = r - 1 if self.pose_cfg.causal else (r - 1) // 2

    @classmethod
    def from_config(cls, pose_cfg, layout_2d, semi, seed: int = 0) -> SemiSupervised:
        """From a :class:`dilpose.config.SemiSupervisedConfig`."""
        return cls(pose_cfg, layout_2d, seed=seed, **dataclasses.asdict(semi))

    def params(self) -> dict:
        return {
            **super().params(),
            "layout_2d": self.layout_2d.name,
            "warmup_epochs": self.warmup_epochs,
            "unlabelled_weight": self.unlabelled_weight,
            "bone_weight": self.bone_weight,
            "confidence_weighted": self.confidence_weighted,
        }

    def check_data(self, train, unlabelled, layout_2d):
        if layout_2d.name != self.layout_2d.name:
            raise DataError(
                "semi-supervised objective",
                f"built for {self.layout_2d.name} 2D input but the trainer reads {layout_2d.name}",
            )
        if unlabelled:
            check_unlabelled(unlabelled, train, layout_2d)

    def unlabelled_active(self) -> bool:
        return self.unlabelled_weight > 0 and self.epoch >= self.warmup_epochs

    def loss(self, net, batch, device):
        if not hasattr(batch, "unlabelled"):
            raise ValueError(
                "the semi-supervised objective needs mixed batches (an unlabelled stream)"
            )
        lab, unl = batch.labelled, batch.unlabelled
        if not self.unlabelled_active():
            return super().loss(net, lab, device)
        n = len(lab.inputs)
        x = torch.from_numpy(np.concatenate([lab.inputs, unl.inputs])).to(device, non_blocking=True)
        pose, traj = net(x).float(), self.trajectory(x).float()
        loss, logs = self._labelled_loss(pose[:n], traj[:n], lab, device)
        o = self.output_frame
        target_2d = x[n:, o : o + pose.shape[1]].float()
        weights = None
        if self.confidence_weighted:
            if unl.scores is None:
                raise ValueError("confidence-weighted reprojection needs batches with scores")
            weights = torch.from_numpy(unl.scores).to(device, non_blocking=True)
        reproj = reprojection_error(
            pose[n:], traj[n:], unl.intrinsics, target_2d, self.layout_2d, weights
        )
        bones = bone_length_penalty(pose[:n], pose[n:])
        logs.update(reprojection=float(reproj.detach()), bone_m=float(bones.detach()))
        return loss + self.unlabelled_weight * (reproj + self.bone_weight * bones), logs


# --------------------------------------------------------------------------------------------------
# Does an unlabelled stream fit its layout and camera?
# --------------------------------------------------------------------------------------------------
def _bone_profile(keypoints: np.ndarray, layout: sk.Skeleton) -> np.ndarray:
    """Median 2D length over frames of every limb and torso segment between the joints that are
    compared with a reprojection (:func:`_shared_bones`), divided by their sum: (segments,)."""
    idx_2d, idx_3d = reprojection_joints(layout)
    pts = keypoints[:, list(idx_2d)]
    lengths = np.stack(
        [np.linalg.norm(pts[:, a] - pts[:, b], axis=-1) for a, b in _shared_bones(idx_3d)], -1
    )
    med = np.median(lengths, axis=0)
    return med / max(float(med.sum()), 1e-12)


def _bone_name(layout: sk.Skeleton, k: int) -> str:
    idx_2d, idx_3d = reprojection_joints(layout)
    a, b = _shared_bones(idx_3d)[k]
    return f"{layout.joint_names[idx_2d[a]]}-{layout.joint_names[idx_2d[b]]}"


def _body_size_2d(keypoints: np.ndarray, layout: sk.Skeleton) -> float:
    """The image size of the body: the median over frames of the summed 2D lengths of the bones
    between shared joints (normalised units)."""
    idx_2d, idx_3d = reprojection_joints(layout)
    pts = keypoints[:, list(idx_2d)]
    pairs = _shared_bones(idx_3d)
    return float(np.median(sum(np.linalg.norm(pts[:, a] - pts[:, b], axis=-1) for a, b in pairs)))


def _body_size_3d(positions: np.ndarray, layout_2d: sk.Skeleton) -> float:
    """The same bones' summed 3D length (metres, median over frames)."""
    _, idx_3d = reprojection_joints(layout_2d)
    pts = positions[:, list(idx_3d)]
    pairs = _shared_bones(idx_3d)
    return float(np.median(sum(np.linalg.norm(pts[:, a] - pts[:, b], axis=-1) for a, b in pairs)))


def _shared_bones(idx_3d) -> list[tuple[int, int]]:
    """Pairs of positions in ``idx_3d`` joined by an H36M-17 bone or across the body at shoulders
    and hips (limbs and torso: the points a 2D detector and a 3D skeleton share)."""
    names = [sk.H36M17.joint_names[i] for i in idx_3d]
    wanted = [
        ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"), ("r_shoulder", "r_elbow"),
        ("r_elbow", "r_wrist"), ("l_hip", "l_knee"), ("l_knee", "l_foot"), ("r_hip", "r_knee"),
        ("r_knee", "r_foot"), ("l_shoulder", "l_hip"), ("r_shoulder", "r_hip"),
        ("l_shoulder", "r_shoulder"), ("l_hip", "r_hip"),
    ]  # fmt: skip
    return [(names.index(a), names.index(b)) for a, b in wanted if a in names and b in names]


#: How far an unlabelled stream's 2D segment-length profile may be from the labelled data's (the
#: largest ratio of one segment's share) before its joint order is called wrong: between the
#: correctly ordered subjects of the mocap data it reaches 2.5 (HDM05 and CMU skeletons differ),
#: a wrist swapped with an ankle gives 4.9, swapped elbows 2.9, a reversed order 5.5. And how far
#: the subject's depth implied by its image size and focal length may lie outside the labelled
#: depths.
PROFILE_RATIO_LIMIT = 2.75
#: Per clip (its implied depth is 0.9-1.8x the true one on the mocap data: a crouching subject
#: looks small), and for the stream's median clip (1.05-1.12x).
DEPTH_RATIO_LIMIT = 2.0
STREAM_DEPTH_RATIO_LIMIT = 1.5


def check_unlabelled(unlabelled, labelled, layout_2d: sk.Skeleton) -> None:
    """Refuse (:class:`DataError`, naming the clip and what is wrong) an unlabelled stream whose 2D
    layout or camera does not fit, before it becomes a silently wrong loss.

    Checked per unlabelled clip, against the labelled clips (which have 3D and the same layout):

    * the layout has joints to compare with a reprojection (:func:`reprojection_joints`);
    * the intrinsics are the 9 normalised numbers :func:`dilpose.camera.project_to_2d` expects:
      finite, positive focal lengths with square pixels (fx / fy within 10 %), principal point
      inside the image (|c| < 1), distortion coefficients below 1 in size;
    * the joint order, over the whole stream: each limb or torso segment's share of the summed 2D
      segment lengths (median over clips) is within a factor :data:`PROFILE_RATIO_LIMIT` of the
      labelled clips' (joints in another order make some "segments" span the body);
    * the camera: the subject's depth implied by its image size, the focal length and the labelled
      subjects' body size (calibrated on the labelled clips, whose depth is known) lies within a
      factor :data:`DEPTH_RATIO_LIMIT` of the labelled depths for every clip, and within
      :data:`STREAM_DEPTH_RATIO_LIMIT` for the stream's median clip (a focal length twice the true
      one puts the subject 12 m away on the mocap data; intrinsics in pixels fail the range check).

    Not caught: a left/right swap of every joint (a mirror image, which flip augmentation trains on
    anyway), and a single swapped left/right pair such as the knees (its profile changes by a factor
    1.5-1.9, within the variation between correctly ordered subjects), and focal lengths within
    about 1.5x of the true one.
    """
    reprojection_joints(layout_2d)
    if not labelled:
        raise DataError("unlabelled stream", "checking it needs labelled clips of the same layout")
    calib, size_3d, depths = _depth_calibration(labelled, layout_2d)
    near, far = min(depths) / DEPTH_RATIO_LIMIT, max(depths) * DEPTH_RATIO_LIMIT
    implied = []
    for s in unlabelled:
        where = f"unlabelled {s.subject}/{s.action}/camera {s.camera}"
        kp = layout_2d.check(np.asarray(s.keypoints_2d, np.float64), where, dims=2)
        fx = _check_intrinsics(s.intrinsics, where)
        size_2d = _body_size_2d(kp, layout_2d)
        depth = calib * fx * size_3d / max(size_2d, 1e-12)
        implied.append(depth)
        if not near <= depth <= far:
            raise DataError(
                where,
                f"with this camera (focal length {fx:.4g}) the subject's image size puts it "
                f"{depth:.2f} m from the camera, outside {near:.2f}-{far:.2f} m (the labelled "
                f"depths, widened {DEPTH_RATIO_LIMIT}x): is this the clip's camera?",
            )
    median = float(np.median(implied))
    lo, hi = min(depths) / STREAM_DEPTH_RATIO_LIMIT, max(depths) * STREAM_DEPTH_RATIO_LIMIT
    if not lo <= median <= hi:
        raise DataError(
            f"unlabelled stream ({len(unlabelled)} clips)",
            f"with its cameras the median clip's subject is {median:.2f} m from the camera, "
            f"outside {lo:.2f}-{hi:.2f} m (the labelled depths, widened "
            f"{STREAM_DEPTH_RATIO_LIMIT}x): are these the clips' cameras (focal lengths)?",
        )
    # The joint order, over the whole stream: one clip's profile depends on its motion and view
    # (a side view folds the shoulders together), the median over clips much less.
    ratio = _stream_profile(unlabelled, layout_2d) / _stream_profile(labelled, layout_2d)
    worst = int(np.argmax(np.abs(np.log(ratio))))
    if not 1 / PROFILE_RATIO_LIMIT < ratio[worst] < PROFILE_RATIO_LIMIT:
        raise DataError(
            f"unlabelled stream ({len(unlabelled)} clips)",
            f"the 2D segment {_bone_name(layout_2d, worst)} is {ratio[worst]:.2f} times its share "
            f"of the body's segments in the labelled clips: are the joints in {layout_2d.name} "
            "order?",
        )


def _depth_calibration(labelled, layout_2d: sk.Skeleton) -> tuple[float, float, list[float]]:
    """From labelled clips, whose depth is known: ``(c, body size 3D (m), depths (m))`` with
    true depth = c * focal * 3D size / 2D size (focal and 2D size normalised)."""
    ratios, depths, sizes_3d = [], [], []
    for s in labelled:
        size_2d = _body_size_2d(np.asarray(s.keypoints_2d, np.float64), layout_2d)
        size_3d = _body_size_3d(np.asarray(s.positions_3d, np.float64), layout_2d)
        depth = float(np.median(s.positions_3d[:, 0, 2]))
        sizes_3d.append(size_3d)
        depths.append(depth)
        if size_2d > 0:
            ratios.append(depth / (float(s.intrinsics[0]) * size_3d / size_2d))
    return float(np.median(ratios)), float(np.median(sizes_3d)), depths


def _check_intrinsics(intrinsics, where: str) -> float:
    """The 9 normalised intrinsics :func:`dilpose.camera.project_to_2d` expects, checked; returns
    the focal length fx (normalised)."""
    k = np.asarray(intrinsics, np.float64)
    if k.shape != (9,) or not np.isfinite(k).all():
        raise DataError(where, f"intrinsics should be 9 finite numbers, got shape {k.shape}")
    fx, fy = k[0], k[1]
    if not (fx > 0 and fy > 0 and 0.9 < fx / fy < 1.1):
        raise DataError(
            where,
            f"focal lengths fx={fx:.4g}, fy={fy:.4g} (normalised) are not a camera with square "
            "pixels: are the intrinsics normalised (Camera.intrinsic_vector)?",
        )
    if np.abs(k[2:4]).max() >= 1 or np.abs(k[4:]).max() >= 1:
        raise DataError(
            where,
            f"principal point {k[2:4].round(3).tolist()} or distortion "
            f"{k[4:].round(3).tolist()} out of range: are the intrinsics normalised?",
        )
    return float(fx)


def _stream_profile(seqs, layout_2d: sk.Skeleton) -> np.ndarray:
    """Median over clips of :func:`_bone_profile`, floored away from 0."""
    profiles = [_bone_profile(np.asarray(s.keypoints_2d, np.float64), layout_2d) for s in seqs]
    return np.maximum(np.median(profiles, axis=0), 1e-9)


# --------------------------------------------------------------------------------------------------
# Evaluating the trajectory
# --------------------------------------------------------------------------------------------------
@torch.inference_mode()
def predict_trajectory(model: TemporalModel, seq, layout_2d: sk.Skeleton) -> np.ndarray:
    """Camera-space root position (T, 1, 3) metres of a whole sequence (no flip test)."""
    model.eval()
    ((_, x),) = batches.whole_sequences(
        [seq], model.receptive_field(), causal=model.cfg.causal, layout_2d=layout_2d
    )
    device = next(model.parameters()).device
    return model(torch.from_numpy(x).to(device)).float().cpu().numpy()[0]


def trajectory_errors(model: TemporalModel, seqs, layout_2d: sk.Skeleton) -> list[dict]:
    """Per test sequence: ``trajectory_mm`` (mean distance between predicted and true root, mm)
    and ``depth_mm`` (mean |error| of the root's depth z, mm), with subject, action, camera and
    frames (for :mod:`dilpose.stats`)."""
    out = []
    for seq in seqs:
        pred = predict_trajectory(model, seq, layout_2d)[:, 0].astype(np.float64)
        true = np.asarray(seq.positions_3d[:, 0], np.float64)
        out.append(
            {
                "subject": seq.subject,
                "action": seq.action,
                "camera": seq.camera,
                "frames": len(seq),
                "trajectory_mm": 1000 * float(np.linalg.norm(pred - true, axis=-1).mean()),
                "depth_mm": 1000 * float(np.abs(pred[:, 2] - true[:, 2]).mean()),
            }
        )
    return out


def from_spec(spec: dict) -> Objective:
    """The objective a checkpoint or cache key names (only built-in objectives without modules)."""
    known = {cls.name: cls for cls in (Supervised,)}
    if not isinstance(spec, dict) or spec.get("name") not in known:
        raise ValueError(f"unknown objective {spec!r}; known: {sorted(known)}")
    return known[spec["name"]](**spec.get("params", {}))
