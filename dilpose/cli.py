"""The ``dilpose`` command: ``train``, ``evaluate`` and ``lift``.

dilpose train --profile default --checkpoint reports/checkpoints/model.pt
torchrun --nproc_per_node 2 -m dilpose.cli train --profile smoke --checkpoint ckpt.pt
dilpose evaluate --checkpoint reports/checkpoints/model.pt --output results.json
dilpose lift detections.json --checkpoint model.pt --output poses3d
dilpose lift detections.json --fov 70 --width 1920 --height 1080   # lifter-243-focal
detector | dilpose lift - --stream --width 1920 --height 1080 > poses3d.jsonl
dilpose export --checkpoint model.pt --output model.onnx --int8 --calibration 64
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import (
    calibration,
    checkpoints,
    config,
    datasets,
    evaluate,
    export,
    input_norm,
    lift,
    live,
    pretrained,
    train,
)
from .config import PROFILES
from .errors import ConfigError, DataError
from .fileio import check_writable, write_json


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``dilpose train: error: ...``) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"filter widths must look like 3,3,3 (got {text!r})"
        ) from None
    if any(w < 1 or w % 2 == 0 for w in widths):
        raise argparse.ArgumentTypeError(
            f"filter widths must be positive odd integers, so that a window has a "
            f"centre frame (got {text!r})"
        )
    return widths


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer >= ``minimum``, else an error saying ``must be {what}``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")


def _positive_number(unit: str):
    """An argparse type: a positive, finite number (of ``unit``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a positive number of {unit}, got {text!r}")
        return value

    return parse


_positive_mm = _positive_number("mm")
_positive_px = _positive_number("pixels")


_non_negative_int = _int_at_least(0, "an integer >= 0")


def _fov_degrees(text: str) -> float:
    """An argparse type: a horizontal field of view strictly between 0 and 180 degrees."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 180:
        raise argparse.ArgumentTypeError(
            f"must be a field of view in degrees, between 0 and 180, got {text!r}"
        )
    return value


def _finite_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _config(args):

    overrides = {
        k: v
        for k, v in {
            "epochs": getattr(args, "epochs", None),
            "channels": getattr(args, "channels", None),
            "filter_widths": getattr(args, "filter_widths", None),
            "batch_size": getattr(args, "batch_size", None),
            "device": getattr(args, "device", None),
            "precision": getattr(args, "precision", None),
        }.items()
        if v is not None
    }
    if getattr(args, "causal", False):
        overrides["causal"] = True
    return config.for_profile(args.profile, dataset=args.dataset, seed=args.seed, **overrides)


def cmd_train(args) -> int:

    cfg = _config(args)
    data = datasets.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
    trainer = train.Trainer(
        cfg,
        datasets.sequences(data, data.train_subjects),
        layout_2d=data.layout_2d,
        checkpoint=args.checkpoint,
        progress=not args.quiet,
        allow_config_change=args.allow_config_change,
    )
    if trainer.rank == 0:
        print(f"training on {trainer.device} in {trainer.precision}", flush=True)
    history = trainer.fit(resume=args.resume)
    if trainer.rank == 0:
        for e in history.epochs:
            print(
                f"epoch {e.epoch}: train MPJPE {e.loss_mm:.1f} mm, lr {e.lr:.2e}, {e.seconds:.1f} s"
            )
        print(f"checkpoint: {args.checkpoint}")
    # Printed by every rank: under torchrun the checksums must agree (DDP keeps replicas in step).
    print(
        f"rank {trainer.rank}/{trainer.world_size} weights checksum "
        f"{checkpoints.weights_checksum(trainer.model):.10e}",
        flush=True,
    )
    return 0


def cmd_evaluate(args) -> int:
    import json

    cfg = _config(args)
    if args.output:
        check_writable(args.output)  # before the evaluation, not after it
    model = checkpoints.model_from_checkpoint(args.checkpoint)
    data = datasets.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
    # in the model's input convention (the focal model reads 2D over each camera's focal length)
    conv = model.input_spec["normalization"]
    seqs = [input_norm.as_convention(s, conv) for s in datasets.sequences(data, data.test_subjects)]
    result = evaluate.evaluate(
        model,
        seqs,
        cfg,
        data.layout_2d,
        flip_test=args.flip_test,
        h36m_actions=datasets.get(data.name).table_i,
    )
    result["dataset"] = data.name
    result["checkpoint"] = str(args.checkpoint)
    print(evaluate.table_i_markdown(result["mpjpe"]["per_action"], data.name))
    print(
        f"MPJPE {result['mpjpe']['action_mean']:.1f} mm (mean over actions), "
        f"P-MPJPE {result['p_mpjpe']['action_mean']:.1f} mm, "
        f"N-MPJPE {result['n_mpjpe']['action_mean']:.1f} mm, "
        f"MPJVE {result['mpjve']['action_mean']:.2f} mm/frame, evaluated in {result['precision']}"
    )
    if args.output:
        write_json(args.output, result)
        print(f"wrote {args.output}")
    else:
        json.dumps(result)  # still validate that the result serialises
    return 0


def cmd_lift(args) -> int:

    if str(args.input) == "-":
        if not args.stream:
            raise ConfigError("reading keypoints from stdin ('-') needs --stream")
        summary = live.stream_lines(
            live.bounded_lines(sys.stdin),
            sys.stdout,
            sys.stderr,
            args.checkpoint,
            width=args.width,
            height=args.height,
            min_score=args.min_score,
            max_gap=args.max_gap,
            flip_test=not args.no_flip_test,
            focal=args.focal,
            fov=args.fov,
        )
        print(
            "dilpose lift: "
            + ", ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()
            ),
            file=sys.stderr,
        )
        return 2 if summary["refused_lines"] else 0

    summary = lift.lift_file(
        args.input,
        args.checkpoint,
        args.output,
        width=args.width,
        height=args.height,
        min_score=args.min_score,
        max_gap=args.max_gap,
        flip_test=not args.no_flip_test,
        video=args.video,
        stream=args.stream,
        steady_bones=args.steady_bones,
        focal=args.focal,
        fov=args.fov,
        full_size_bones=args.full_size_bones,
    )
    for key, value in summary.items():
        print(f"{key}: {value}")
    # where to look at it: the explorer reads a lift result (and the keypoints it records)
    print(f"explore: `make explore`, then 'lift result' {summary['json']}")
    return 0


def cmd_export(args) -> int:
    cfg = _config(args)
    model = checkpoints.model_from_checkpoint(args.checkpoint)
    export.check_finite_weights(model, args.checkpoint)  # before loading data: fail fast
    data = datasets.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
    checkpoints.check_input(model.input_spec, data.layout_2d, args.checkpoint, "the check data")
    # The self-check's real poses: the test clips of the embedded data (first camera).
    conv = model.input_spec["normalization"]
    test = datasets.sequences(data, data.test_subjects, cameras=(0,))
    check = [input_norm.as_convention(s, conv).keypoints_2d for s in test]
    calibration_windows = None
    if args.int8:
        calibration_windows = calibration.calibration_windows(
            [
                input_norm.as_convention(s, conv)
                for s in datasets.sequences(data, data.train_subjects)
            ],
            model.cfg.receptive_field(),
            model.cfg.causal,
            count=args.calibration,
            seed=cfg.seed,
            layout_2d=data.layout_2d,
        )
    summary = export.export_checkpoint(
        args.checkpoint,
        args.output,
        check,
        int8=args.int8,
        calibration=calibration_windows,
        int8_bound_mm=args.int8_bound,
    )
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def cmd_models(args) -> int:

    rows = [m.row() for m in pretrained.shipped()] + [m.row() for m in pretrained.cached()]
    header = (
        "name",
        "where",
        "input_layout",
        "receptive_field",
        "causal",
        "input_convention",
        "channels",
        "precision",
        "test_mpjpe_mm",
        "file",
    )
    width = {
        h: max(len(h), *(len(str(r[h] if r[h] is not None else "-")) for r in rows))
        for h in header[:-1]
    }
    print("  ".join(h.ljust(width[h]) for h in header[:-1]) + "  file")
    for r in rows:
        cells = [str(r[h] if r[h] is not None else "-").ljust(width[h]) for h in header[:-1]]
        print("  ".join(cells) + "  " + r["file"])
    return 0


def add_series_options(p: argparse.ArgumentParser) -> None:
    """``--profile``, ``--dataset`` (registered names and aliases) and ``--seed``: the options every
    run of the series takes (the CLI's train/evaluate and ``python -m dilpose.runner``)."""
    p.add_argument("--profile", choices=PROFILES, default="default")
    p.add_argument(
        "--dataset",
        choices=datasets.names(aliases=True),
        default=datasets.DEFAULT,
        metavar="{" + ",".join(datasets.names()) + "}",
        help=f"default {datasets.DEFAULT}",
    )
    p.add_argument("--seed", type=int, default=0)


def _run_options(p: argparse.ArgumentParser) -> None:
    add_series_options(p)
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "auto"),
        help="mixed precision (default: the profile's); auto = bf16 where the hardware has it",
    )


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model and write a checkpoint every epoch")
    _run_options(p)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    p.add_argument(
        "--allow-config-change",
        action="store_true",
        help="with --resume: continue although the run's settings differ from the checkpoint's",
    )
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--channels", type=_positive_int)
    p.add_argument(
        "--filter-widths", type=_widths, help="odd kernel widths, e.g. 3,3,3 (27 frames)"
    )
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--causal", action="store_true")
    p.add_argument(
        "--device", help="auto (default: the GPU if there is one), cpu, cuda, cuda:1, ..."
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="MPJPE / P-MPJPE / N-MPJPE / MPJVE per action on the test subjects"
    )
    _run_options(p)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--output", type=Path, help="write the results JSON here")
    p.set_defaults(func=cmd_evaluate)


def _add_lift(sub) -> None:
    p = sub.add_parser(
        "lift", help="2D COCO keypoints from any detector (COCO JSON or npz) -> 3D joints"
    )
    p.add_argument(
        "input",
        type=Path,
        help="COCO JSON or npz; '-' with --stream: JSON lines on stdin, one frame per line",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="a trained model (default: the shipped lifter-243; lifter-243-focal with --focal or "
        "--fov, or when the input records its focal length; lifter-243-causal with --stream)",
    )
    p.add_argument(
        "--output",
        type=Path,
        help="output prefix: writes PREFIX.npy and PREFIX.json (default: <input name>_3d here)",
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="feed the frames one at a time to a causal model, as a live source would",
    )
    p.add_argument(
        "--width", type=_positive_int, help="image width in pixels (if the input does not say)"
    )
    p.add_argument(
        "--height", type=_positive_int, help="image height in pixels (if the input does not say)"
    )
    lens = p.add_mutually_exclusive_group()
    lens.add_argument(
        "--focal",
        type=_positive_px,
        metavar="PX",
        help="the camera's focal length in pixels, when known (and the input does not record "
        "it): the 2D is then divided by it, so the lens and image size stop mattering; without "
        "--checkpoint the model is then lifter-243-focal. A model that reads screen input refuses "
        "it",
    )
    lens.add_argument(
        "--fov",
        type=_fov_degrees,
        metavar="DEG",
        help="the camera's horizontal field of view in degrees, instead of --focal (the focal "
        "length is width / 2 / tan(fov / 2)); same use and same default model",
    )
    p.add_argument(
        "--min-score",
        type=_finite_float,
        default=0.3,
        help="joints below this confidence are interpolated",
    )
    p.add_argument(
        "--max-gap",
        type=_non_negative_int,
        default=25,
        help="longest gap (frames) that is interpolated",
    )
    p.add_argument("--video", help="which video of a multi-video custom npz")
    p.add_argument("--no-flip-test", action="store_true")
    bone_lengths = p.add_mutually_exclusive_group()
    bone_lengths.add_argument(
        "--steady-bones",
        action="store_true",
        help="one length per bone over the clip (its median), keeping each bone's direction",
    )
    bone_lengths.add_argument(
        "--full-size-bones",
        action="store_true",
        help="one length per bone over the clip, at its full size (an upper quantile of the "
        "frames' lengths, dilpose.bones.FULL_SIZE_QUANTILE): skeletons the lifter would shrink "
        "come out the person's size, at a small cost in MPJPE",
    )
    p.set_defaults(func=cmd_lift)


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="a checkpoint to ONNX (whole sequence, and the streaming step of a causal model), "
        "each file checked on the test clips of --dataset before it is written",
    )
    add_series_options(p)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True, help="model.onnx (+ model.step.onnx)")
    p.add_argument(
        "--int8", action="store_true", help="onnxruntime static int8 (QDQ, per-channel weights)"
    )
    p.add_argument(
        "--calibration",
        type=_positive_int,
        default=64,
        help="training windows (--dataset) to calibrate int8 activations on (default 64)",
    )
    p.add_argument(
        "--int8-bound",
        type=_positive_mm,
        default=export.INT8_BOUND_MM,
        help="fail when int8 differs from fp32 by more than this (mm, mean joint distance on the "
        "test clips, over a stream's warm-up and after it; default 15)",
    )
    p.set_defaults(func=cmd_export)


def _add_models(sub) -> None:
    p = sub.add_parser(
        "models", help="the shipped pretrained models and the trained models in the model cache"
    )
    p.set_defaults(func=cmd_models)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dilpose",
        description="Lift 2D keypoint sequences to 3D with a "
        "dilated temporal ConvNet (train, evaluate, lift).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_add_train, _add_evaluate, _add_lift, _add_export, _add_models):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input, a bad setting or an unwritable path ends in one line on stderr
    naming the file or option and the problem, with exit status 2; anything else is a bug and keeps
    its traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, ConfigError) as e:
        print(f"dilpose {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an I/O failure the readers and writers did not name themselves
        where = f"{e.filename}: " if e.filename else ""
        print(f"dilpose {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
