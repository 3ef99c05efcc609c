"""In-memory tensors served in batches by slicing: one gather per batch, no per-row
collation (a DataLoader over a TensorDataset would index and stack rows one by one)."""

from __future__ import annotations

from collections.abc import Iterator

import torch


class EpochSeed:
    """Lightning calls ``set_epoch`` on a loader's ``sampler`` at the start of every epoch;
    the permutation of epoch e is drawn from seed (base, e), so the data order is the same
    in every run, and after a resume, whatever else consumed random numbers."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)


class TensorBatches:
    """An iterable of ``(x[idx], y[idx])`` batches over tensors of equal length.

    ``shard=(rank, world)``: every rank draws the same shuffled batches and takes rows
    ``rank, rank + world, ...`` of each, yielding ``(x, y, weight)``: its loss weight,
    ``world * rows taken / batch rows``, so that DDP's average of the ranks' gradients is
    the gradient of the whole batch's mean loss even when the rows do not split evenly. A
    last batch with fewer rows than ranks is skipped by all of them (every rank must take
    the same number of steps)."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        shard: tuple[int, int] = (0, 1),
        weights: torch.Tensor | None = None,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.rank, self.world = shard
        # Per-row loss weights (mitigation=reweighing): yielded as a tensor after y.
        self.weights = weights
        if weights is not None and self.world > 1:
            from assayml.errors import ConfigError

            raise ConfigError(
                "mitigation=reweighing trains in one process: per-row weights are not "
                "sharded across DDP ranks; use one device (trainer=cpu or one GPU)"
            )
        self.sampler = EpochSeed(seed)
        self.batch_sampler = None  # Lightning inspects loaders for one

    def __len__(self) -> int:
        full, rest = divmod(len(self.x), self.batch_size)
        return full + (0 < rest and (self.world == 1 or rest >= self.world))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                rows = slice(start, start + self.batch_size)
                yield self._rows(rows)
            return
        order = torch.randperm(n, generator=self.sampler.generator())
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.world == 1:
                yield self._rows(idx)
                continue
            if len(idx) < self.world:
                return
            mine = idx[self.rank :: self.world]
            yield self.x[mine], self.y[mine], self.world * len(mine) / len(idx)

    def _rows(self, idx) -> tuple:
        if self.weights is None:
            return self.x[idx], self.y[idx]
        return self.x[idx], self.y[idx], self.weights[idx]


class EnsembleBatches:
    """``(x, y)`` batches of shape ``[k, rows, ...]``: member i draws its own rows in its own
    order, exactly as a single network trained with seed ``seeds[i]`` would (or from its
    own bootstrap resample of the rows, when ``bootstrap``)."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        seeds: list[int],
        bootstrap: bool = False,
        shard: tuple[int, int] = (0, 1),
        weights: torch.Tensor | None = None,
    ) -> None:
        self.members = []
        for seed in seeds:
            rows = bootstrap_rows(len(x), seed) if bootstrap else None
            xs, ys = (x, y) if rows is None else (x[rows], y[rows])
            ws = weights if weights is None or rows is None else weights[rows]
            self.members.append(TensorBatches(xs, ys, batch_size, True, seed, shard, ws))
        self.sampler = self  # Lightning calls sampler.set_epoch each epoch
        self.batch_sampler = None

    def set_epoch(self, epoch: int) -> None:
        for member in self.members:
            member.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.members[0])

    def __iter__(self) -> Iterator[tuple]:
        for parts in zip(*self.members, strict=True):
            # Sharded batches carry a loss weight, the same for every member; reweighed
            # ones each member's rows' weights, stacked like y.
            rest = parts[0][2:]
            if rest and torch.is_tensor(rest[0]):
                rest = (torch.stack([p[2] for p in parts]),)
            yield (
                torch.stack([p[0] for p in parts]),
                torch.stack([p[1] for p in parts]),
                *rest,
            )


def bootstrap_rows(n: int, seed: int) -> torch.Tensor:
    """n row indices drawn with replacement, seeded (a member's bootstrap resample)."""
    generator = torch.Generator().manual_seed(seed * 7_919 + 1)
    return torch.randint(0, n, (n,), generator=generator)
