"""Anti-collapse terms on a batch of features ``(n, D)``, added to the JEPA loss.

The EMA target and the stop-gradient slow collapse down but do not rule it out: at small
scale the features of I-JEPA lose rank (the README measures it). An explicit term that
keeps the features spread out is what the strong small-scale JEPA results share.

* ``vicreg`` (Bardes, Ponce & LeCun, "VICReg", ICLR 2022): the variance and covariance
  terms. ``variance`` = mean over dimensions of ``relu(1 - std_d)`` (every dimension keeps
  a standard deviation of at least 1 across the batch); ``covariance`` = sum of the squared
  off-diagonal covariances / D (dimensions decorrelate). Returned as
  ``variance + covariance / 25``: VICReg's own ratio of the two weights (25 : 1). Of a
  single row (n = 1) the std is 0 (no spread: the hinge is paid in full) and there is no
  covariance, rather than the NaN of an unbiased estimate.
* ``sigreg`` (Balestriero & LeCun, "LeJEPA", 2025): Sketched Isotropic Gaussian
  Regularisation. Project the features on ``num_slices`` random unit directions and test
  each 1-D projection against N(0, 1) with the Epps-Pulley statistic: the squared distance
  between its empirical characteristic function and ``exp(-t^2 / 2)``, weighted by
  ``exp(-t^2 / 2)`` and integrated over ``t`` in [-5, 5] (trapezoid rule), times n.
  By the Cramer-Wold theorem, all 1-D projections Gaussian <=> the features Gaussian.

Both are built here by hand (they are a few lines each, and the lesson).

    >>> z = torch.randn(512, 16)
    >>> float(vicreg(z)) < 0.1, float(sigreg(z, torch.Generator().manual_seed(0))) < 2.0
    (True, True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["REGULARIZERS", "regularizer", "sigreg", "vicreg"]

REGULARIZERS = ("none", "vicreg", "sigreg")


def vicreg(features: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """VICReg's variance + covariance / 25 of ``(n, D)`` features (0 for whitened ones;
    unbiased estimates for n > 1, a single row has std 0 and no covariance)."""
    n, dim = features.shape
    centred = features - features.mean(0)
    std = torch.sqrt(centred.pow(2).sum(0) / max(n - 1, 1) + eps)
    variance = F.relu(1 - std).mean()
    cov = centred.T @ centred / max(n - 1, 1)
    off_diagonal = cov - torch.diag(torch.diagonal(cov))
    covariance = off_diagonal.pow(2).sum() / dim
    return variance + covariance / 25


def sigreg(
    features: torch.Tensor,
    generator: torch.Generator | None = None,
    num_slices: int = 256,
    knots: int = 17,
) -> torch.Tensor:
    """SIGReg's Epps-Pulley statistic of ``(n, D)`` features, averaged over random slices
    (0 in expectation for isotropic Gaussian features, large for collapsed ones)."""
    n, dim = features.shape
    directions = torch.randn(dim, num_slices, generator=generator).to(features)
    directions = directions / directions.norm(dim=0)
    t = torch.linspace(-5, 5, knots, device=features.device, dtype=features.dtype)
    gaussian = torch.exp(-0.5 * t**2)  # characteristic function of N(0, 1), also the weight
    angle = (features @ directions).unsqueeze(-1) * t  # (n, slices, knots)
    real, imag = angle.cos().mean(0), angle.sin().mean(0)  # empirical char. function
    distance = ((real - gaussian) ** 2 + imag**2) * gaussian
    return n * torch.trapezoid(distance, t, dim=-1).mean()


def regularizer(
    name: str, features: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The term ``name`` (one of :data:`REGULARIZERS`) of ``(..., D)`` features, flattened
    to ``(n, D)``; ``"none"`` is a zero that keeps the graph."""
    if name not in REGULARIZERS:
        raise ValueError(f"loss.regularizer={name!r} is not supported; valid: {REGULARIZERS}")
    flat = features.reshape(-1, features.shape[-1])
    if name == "vicreg":
        return vicreg(flat)
    if name == "sigreg":
        return sigreg(flat, generator)
    return flat.sum() * 0.0
