import numpy as np
import pytest

from dilpose import batches, datasets
from dilpose import skeleton as sk
from dilpose.camera import project_to_2d


def _seq(T=40, seed=0, name="walk 1"):
    rng = np.random.default_rng(seed)
    kp = np.cumsum(rng.normal(size=(T, 17, 2)), 0).astype(np.float32)
    pos = rng.normal(size=(T, 17, 3)).astype(np.float32) + [0, 0, 5]
    return datasets.Sequence(
        "s1", name, 0, kp, pos, np.arange(9, dtype=np.float32), np.ones((T, 17), np.float32)
    )


def test_symmetric_window_is_centred_and_edges_replicate():
    seq = _seq()
    wb = batches.WindowBatches([seq], 1000, 9, augment=False, shuffle=False)
    b = next(wb.epoch(0))
    assert b.inputs.shape == (40, 9, 17, 2) and b.targets.shape == (40, 1, 17, 3)
    for t in (0, 10, 39):
        np.testing.assert_array_equal(b.inputs[t, 4], seq.keypoints_2d[t])
    # edge padding
    np.testing.assert_array_equal(b.inputs[0, :4], np.repeat(seq.keypoints_2d[:1], 4, 0))
    np.testing.assert_array_equal(b.inputs[39, 5:], np.repeat(seq.keypoints_2d[-1:], 4, 0))


def test_causal_window_ends_at_the_output_frame():
    seq = _seq()
    wb = batches.WindowBatches([seq], 1000, 9, causal=True, augment=False, shuffle=False)
    b = next(wb.epoch(0))
    for t in (0, 5, 39):
        np.testing.assert_array_equal(b.inputs[t, -1], seq.keypoints_2d[t])
        np.testing.assert_array_equal(b.inputs[t, -1 - min(t, 8)], seq.keypoints_2d[t - min(t, 8)])


def test_targets_are_root_relative_and_trajectory_kept():
    seq = _seq()
    b = next(batches.WindowBatches([seq], 1000, 3, augment=False, shuffle=False).epoch(0))
    np.testing.assert_array_equal(b.targets[:, 0, 0], 0)
    np.testing.assert_allclose(b.targets[:, 0] + b.trajectory[:, 0], seq.positions_3d, atol=1e-6)


def test_chunks_cover_every_frame_once():
    seq = _seq(T=23)
    wb = batches.WindowBatches([seq], 1000, 5, chunk_length=10, augment=False, shuffle=False)
    b = next(wb.epoch(0))
    assert b.inputs.shape == (3, 14, 17, 2)
    got = np.concatenate([b.targets[0], b.targets[1], b.targets[2][:3]]) + np.concatenate(
        [b.trajectory[0], b.trajectory[1], b.trajectory[2][:3]]
    )
    np.testing.assert_allclose(got, seq.positions_3d, atol=1e-6)


def test_shuffling_is_seeded_and_each_window_appears_once_per_epoch():
    seqs = [_seq(seed=i) for i in range(3)]
    wb = batches.WindowBatches(seqs, 16, 3, seed=5)

    def order(epoch):
        return np.concatenate([b.inputs[:, 1].reshape(len(b.inputs), -1) for b in wb.epoch(epoch)])

    first, again, other = order(0), order(0), order(1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len(first) == wb.num_windows == 2 * 3 * 40  # flip augmentation doubles
    assert len(np.unique(first, axis=0)) == len(first)


def test_shards_split_the_epoch_evenly_without_overlap():
    seqs = [_seq(seed=i) for i in range(2)]
    full = batches.WindowBatches(seqs, 8, 3, seed=1)  # 160 windows = 20 batches
    parts = [batches.WindowBatches(seqs, 8, 3, seed=1, rank=r, world_size=3) for r in range(3)]
    assert [p.num_batches() for p in parts] == [6, 6, 6]  # equal counts keep DDP in step
    seen = np.concatenate(
        [b.inputs[:, 1].reshape(len(b.inputs), -1) for p in parts for b in p.epoch(0)]
    )
    assert len(seen) == 18 * 8 and len(np.unique(seen, axis=0)) == len(seen)
    assert full.num_batches() == 20


def test_subsampling_rotates_through_all_windows():
    seq = _seq(T=40)
    wb = batches.WindowBatches([seq], 1000, 3, augment=False, shuffle=False, subsample=4)
    firsts = [next(wb.epoch(e)).inputs[:, 1] for e in range(4)]
    assert all(len(f) == 10 for f in firsts)
    np.testing.assert_array_equal(
        np.sort(np.concatenate(firsts).reshape(40, -1), 0),
        np.sort(seq.keypoints_2d.reshape(40, -1), 0),
    )


def test_flip_swaps_left_and_right_consistently_in_2d_and_3d():
    seq = _seq()
    b = next(batches.WindowBatches([seq], 1000, 1, augment=True, shuffle=False).epoch(0))
    plain, flipped = ~b.flipped, b.flipped
    l2, r2 = sk.COCO17.index("l_wrist"), sk.COCO17.index("r_wrist")
    l3, r3 = sk.H36M17.index("l_wrist"), sk.H36M17.index("r_wrist")
    np.testing.assert_allclose(b.inputs[flipped][:, 0, l2], b.inputs[plain][:, 0, r2] * [-1, 1])
    np.testing.assert_allclose(
        b.targets[flipped][:, 0, l3], b.targets[plain][:, 0, r3] * [-1, 1, 1], atol=1e-6
    )
    np.testing.assert_allclose(
        b.intrinsics[flipped][0], seq.intrinsics * [1, 1, -1, 1, 1, 1, 1, -1, 1]
    )


def test_flipped_3d_projects_onto_flipped_2d():
    # A clean rendering: the 2D input is exactly the 3D projected through the camera, so after the
    # flip, projecting the flipped 3D with the flipped intrinsics must give the flipped 2D.
    data = datasets.load("mocap", noise=None, subjects=("cmu02",))
    seq = datasets.sequences(data, ["cmu02"], cameras=(1,))[0]
    flipped_3d = batches.flip_3d(seq.positions_3d.astype(np.float64))
    flipped_2d = batches.flip_2d(seq.keypoints_2d.astype(np.float64), sk.COCO17)
    projected = project_to_2d(
        flipped_3d, batches.flip_intrinsics(seq.intrinsics.astype(np.float64))
    )
    coco_body = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    h36m_body = [
        sk.H36M17.index(n)
        for n in (
            "l_shoulder",
            "r_shoulder",
            "l_elbow",
            "r_elbow",
            "l_wrist",
            "r_wrist",
            "l_hip",
            "r_hip",
            "l_knee",
            "r_knee",
            "l_foot",
            "r_foot",
        )
    ]
    np.testing.assert_allclose(projected[:, h36m_body], flipped_2d[:, coco_body], atol=1e-5)


def test_whole_sequences_pad_and_merge_flipped():
    seq = _seq()
    ((s, x),) = list(batches.whole_sequences([seq], 27, flip_test=True))
    assert x.shape == (2, 40 + 26, 17, 2)
    pred = np.random.default_rng(0).normal(size=(40, 17, 3))
    both = np.stack([pred, batches.flip_3d(pred)])
    np.testing.assert_allclose(batches.merge_flipped(both), pred)


def test_even_receptive_field_is_rejected():
    with pytest.raises(ValueError, match="odd"):
        batches.WindowBatches([_seq()], 4, 4)


def test_every_window_is_its_sequence_slice_across_sequences_flips_and_last_chunks():
    seqs = [_seq(T=T, seed=i, name=f"walk {i}") for i, T in enumerate((40, 7, 23))]
    for R, L, causal in ((9, 1, False), (27, 1, True), (5, 10, False)):
        wb = batches.WindowBatches(seqs, 16, R, chunk_length=L, causal=causal, seed=2)
        before, after = batches.padding(R, causal)
        width = L + R - 1
        for b in wb.epoch(0):
            for k in range(len(b.inputs)):
                # identify the window by its first target frame's trajectory
                i, start = next(
                    (i, s)
                    for i, seq in enumerate(seqs)
                    for s in range(0, len(seq), L)
                    if np.allclose(
                        np.abs(b.trajectory[k, 0, 0]),
                        np.abs(seq.positions_3d[s, 0]),
                        rtol=0,
                        atol=1e-6,
                    )
                )
                padded = np.pad(
                    seqs[i].keypoints_2d, ((before, after + L), (0, 0), (0, 0)), mode="edge"
                )
                x = padded[start : start + width]
                pose, traj = batches.split_root(seqs[i].positions_3d)
                rows = np.minimum(np.arange(start, start + L), len(seqs[i]) - 1)
                y, c = pose[rows].astype(np.float32), seqs[i].intrinsics
                if b.flipped[k]:
                    x, y, c = (
                        batches.flip_2d(x, sk.COCO17),
                        batches.flip_3d(y),
                        batches.flip_intrinsics(c),
                    )
                np.testing.assert_array_equal(b.inputs[k], x)
                np.testing.assert_array_equal(b.targets[k], y)
                np.testing.assert_array_equal(b.intrinsics[k], c)


def test_context_frames_count_the_real_share_of_a_centred_window():
    # R = 21 (p = 10): 90 % is 18.9, so 19 real frames are needed: frame t of a long clip needs
    # t >= 8 (8 + 10 + 1 = 19 real) and the same from the end
    ok = batches.context_frames(60, 21)
    assert ok.tolist() == [False] * 8 + [True] * 44 + [False] * 8
    assert not batches.context_frames(18, 21).any()  # shorter than 90 % of the window
    assert batches.context_frames(19, 21).tolist() == [False] * 8 + [True] * 3 + [False] * 8


def test_min_context_trains_every_receptive_field_on_the_same_output_frames():
    seqs = [_seq(T=60), _seq(T=15, seed=1, name="walk 2")]  # the short clip has no such frame
    frames = []
    for rf in (3, 9, 21):
        wb = batches.WindowBatches(seqs, 1000, rf, augment=False, shuffle=False, min_context=21)
        frames.append(sorted(map(tuple, wb.pairs[:, :2].tolist())))
        b = next(wb.epoch(0))
        pose = batches.split_root(seqs[0].positions_3d)[0]
        np.testing.assert_allclose(b.targets[:, 0], pose[8:52], atol=1e-6)
    assert frames[0] == frames[1] == frames[2] == [(0, t) for t in range(8, 52)]
    with pytest.raises(datasets.DataError, match="min_context"):
        batches.WindowBatches(seqs[1:], 1000, 9, min_context=21)
