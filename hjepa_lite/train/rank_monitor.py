"""Collapse you can see while it happens: RankMe of the target features during training.

RankMe (Garrido et al., "RankMe: Assessing the downstream performance of pretrained
self-supervised representations by their rank", ICML 2023) is the effective rank of a set
of features: ``exp`` of the entropy of their normalised singular values, from 1 (every
feature on one line: collapsed) to D (every direction used equally).

:class:`RankMonitor` computes it on the tokens the training step already has: the batch's
target tokens of every level ``(B * N_l, D)`` and the EMA encoder's tokens ``(B * N, D)``,
so it costs one SVD per level, and only every few steps. It appends to the trainer's
history (``rank_step``, ``rank_<l>``, ``rank_encoder``) and warns, once per feature set,
when a rank falls below half of its first logged value. These are ranks of tokens of one
batch, not of whole-image features over a data set (the probes' RankMe): compare them with
each other over training, not with the probes' numbers. A set of identical tokens (one
token: batch size 1 at a level of one cell) has no spread to measure: its rank is logged as 1.

:func:`batch_std` is the trainer's other collapse monitor (``std_<l>``): how much the
image-level target features vary across the batch.
"""

from __future__ import annotations

import warnings

import torch

from ..evaluation.evaluate import rankme

__all__ = ["RankMonitor", "batch_std"]


def batch_std(features: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of the std across the batch of the image-mean features of
    ``(B, N, D)`` tokens (0 = every image gets the same features: collapsed).

    Unbiased for ``B > 1``; for one image it is 0, the spread of a single sample (not NaN):
    at batch size 1 it says nothing about collapse; watch ``rank_<l>`` instead."""
    images = features.mean(1)
    return images.std(0, correction=1 if images.shape[0] > 1 else 0).mean()


def _rank(tokens: torch.Tensor) -> float:
    """RankMe of ``(n, D)`` tokens; 1 when they are all the same (nothing spread: n = 1)."""
    if not bool((tokens != tokens[:1]).any()):
        return 1.0
    return rankme(tokens)


class RankMonitor:
    """Appends RankMe per level and of the encoder tokens to a history dict."""

    def __init__(self, num_levels: int) -> None:
        self.names = [f"rank_{level}" for level in range(num_levels)] + ["rank_encoder"]
        self.warned: set[str] = set()

    def log(self, history: dict[str, list[float]], step: int, outputs: dict) -> dict[str, float]:
        """Measure the ranks of one training step's ``outputs`` (from ``HJEPA.forward``)
        and append them (and ``step``) to ``history``."""
        for key in ["rank_step", *self.names]:
            history.setdefault(key, [])
        features = [*outputs["targets"], outputs["target_tokens"]]
        ranks = {
            name: _rank(x.detach().reshape(-1, x.shape[-1]).float().cpu())
            for name, x in zip(self.names, features, strict=True)
        }  # rankme works on detached copies: no graph is built
        history["rank_step"].append(step)
        for name, value in ranks.items():
            first = history[name][0] if history[name] else value
            history[name].append(value)
            if value < first / 2 and name not in self.warned:
                self.warned.add(name)
                warnings.warn(
                    f"{name}: RankMe fell from {first:.1f} to {value:.1f} at step {step} "
                    "(below half its first value): the features are collapsing onto fewer "
                    "directions. Try loss.regularizer: vicreg or sigreg, or model.targets: "
                    "pooled (README, 'Collapse').",
                    stacklevel=2,
                )
        return ranks
