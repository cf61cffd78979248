"""protok.training: config, data, split, loop, checkpoints and DDP helpers behind ``protok train``.

>>> from protok.training import train
>>> ckpt = train("configs/tiny.toml", overrides=["run.out_dir=/tmp/protok-tiny"])  # doctest: +SKIP
"""

from protok.training.checkpoint import find_latest_checkpoint, load_checkpoint, save_checkpoint
from protok.training.config import (
    DataConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    apply_overrides,
    load_config,
    parse_override,
)
from protok.training.data import (
    ChainStore,
    CropDataset,
    StepBatchSampler,
    TrainingData,
    crop_window,
    find_structure_files,
    load_training_data,
    make_train_loader,
    make_val_loader,
)
from protok.training.logging import MetricsLogger, read_metrics
from protok.training.loop import Trainer, build_optimizer, lr_at, train, validate
from protok.training.optim import adamw_decay_matrices, warmup_cosine
from protok.training.split import SplitResult, group_chains, read_scop_superfamilies, split_chains

__all__ = [
    "adamw_decay_matrices",
    "warmup_cosine",
    "ChainStore",
    "CropDataset",
    "DataConfig",
    "MetricsLogger",
    "OptimConfig",
    "RunConfig",
    "SplitResult",
    "StepBatchSampler",
    "TrainConfig",
    "Trainer",
    "TrainingData",
    "apply_overrides",
    "build_optimizer",
    "crop_window",
    "find_latest_checkpoint",
    "find_structure_files",
    "group_chains",
    "load_checkpoint",
    "load_config",
    "load_training_data",
    "lr_at",
    "make_train_loader",
    "make_val_loader",
    "parse_override",
    "read_metrics",
    "read_scop_superfamilies",
    "save_checkpoint",
    "split_chains",
    "train",
    "validate",
]
