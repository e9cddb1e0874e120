"""Where training runs: the device, and the process group under ``torchrun``.

Training runs on the GPU when torch sees one (``Config.device = "auto"``), else on the CPU. Under
``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on GPU, one GPU per process) the trainer
shards every epoch's batches across processes; rank 0 writes checkpoints and shows the progress bar.
"""

from __future__ import annotations

import os

import torch


def distributed_context() -> tuple[int, int]:
    """(rank, world_size); initialises the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":  # one GPU per process, chosen before NCCL binds a communicator to it
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend=backend)
    if torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> ``cuda:<LOCAL_RANK>`` when a GPU is visible, else ``cpu``; other names as
    given."""
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    else:
        device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but torch sees no GPU")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device} requested but torch sees {torch.cuda.device_count()} GPU(s) "
                "(under torchrun: one process per GPU, or CUDA_VISIBLE_DEVICES= for CPU processes)"
            )
    return device
