"""A training data loader that is exactly reproducible and resumable mid-epoch.

Two things make a resumed run see the very same batches as an uninterrupted one:

* :class:`ResumableSampler` (a ``DistributedSampler``, so it also shards data across DDP
  ranks) shuffles each epoch with a fixed seed and can start part-way through an epoch;
* :class:`SeededAugmentation` seeds the random augmentation of every sample from
  ``(seed, epoch, index)``, so crops do not depend on the global random state, on the
  number of loader workers, or on where a run was resumed.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..config import Config
from .datasets import build_dataset

__all__ = ["ResumableSampler", "SeededAugmentation", "make_train_loader", "train_loader"]


class SeededAugmentation(Dataset):
    """Wrap a dataset whose transform is random: item ``i`` of epoch ``e`` is always the
    same crop. Call :meth:`set_epoch` at the start of each epoch."""

    def __init__(self, dataset: Dataset, seed: int = 0) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):  # e.g. Shapes with fresh images per epoch
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(((self.seed * 100_003 + self.epoch) * 10_000_019 + index) % 2**62)
            return self.dataset[index]


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` (drop_last, seeded shuffle) that can skip the first
    ``start_batch`` batches of the current epoch. Works without a process group when
    ``num_replicas=1, rank=0``."""

    def __init__(self, dataset: Dataset, batch_size: int, num_replicas: int, rank: int, seed: int):
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.batch_size = batch_size
        self.start_batch = 0

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        self.set_epoch(epoch)
        self.start_batch = start_batch

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start_batch * self.batch_size :])

    def __len__(self) -> int:
        return super().__len__() - self.start_batch * self.batch_size


def make_train_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    num_workers: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
) -> DataLoader:
    """A loader of full batches over ``SeededAugmentation(dataset)``; its ``.sampler`` is a
    :class:`ResumableSampler` and its ``.dataset`` has ``set_epoch``."""
    if len(dataset) < batch_size * num_replicas:
        raise ValueError(
            f"data.batch_size={batch_size} x {num_replicas} process(es) is larger than the "
            f"data set ({len(dataset)} images): lower data.batch_size"
        )
    seeded = SeededAugmentation(dataset, seed)
    sampler = ResumableSampler(seeded, batch_size, num_replicas, rank, seed)
    return DataLoader(
        seeded,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=True,
        generator=torch.Generator().manual_seed(seed),  # not the global RNG
        persistent_workers=False,
    )


def train_loader(
    config: Config, patch_size: int, rank: int, world_size: int, dataset: Dataset | None = None
) -> DataLoader:
    """The loader of a run: ``config.data``'s training set (or ``dataset``), shuffled by
    ``config.train.seed`` and sharded for DDP rank ``rank`` of ``world_size``."""
    data = config.data
    if dataset is None:
        dataset = build_dataset(
            data.dataset,
            split="train",
            img_size=config.model.img_size,
            root=data.root,
            download=data.download,
            augment=data.augment,
            patch_size=patch_size,
            fresh_images=data.fresh_images,
        )
    seed = config.train.seed
    return make_train_loader(dataset, data.batch_size, seed, data.num_workers, world_size, rank)
