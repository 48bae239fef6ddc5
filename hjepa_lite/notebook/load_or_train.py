"""The notebooks' load-or-train step: the shipped pre-trained model
(:mod:`hjepa_lite.shipped.pretrained`), or one trained here with the same recipe
(:class:`~hjepa_lite.train.trainer.Trainer`)."""

from __future__ import annotations

import os

from ..config import Config
from ..core.arguments import check_positive
from ..model.hjepa import HJEPA
from ..shipped.pretrained import RECIPE, load_history, load_pretrained

__all__ = ["load_or_train"]


def load_or_train(
    name: str,
    train: bool = False,
    steps: int = RECIPE["steps"],
    batch: int = RECIPE["batch"],
    out_dir: str | os.PathLike | None = None,
    callback=None,
    progress: bool = True,
    dataset=None,
) -> tuple[HJEPA, dict[str, list[float]]]:
    """The notebooks' load-or-train step: the shipped model and its history, or (``train``)
    a model trained here for ``steps`` steps of ``batch`` (resumed from ``out_dir`` if a run
    is there), with ``callback(trainer)`` after every step, on ``dataset`` if given (else
    the config's training set)."""
    check_positive("load_or_train", steps=steps, batch=batch)
    if not train:
        return load_pretrained(name), load_history(name)
    from ..train.trainer import Trainer  # the training stack only when training

    config = Config.from_yaml(name)
    config.train.steps, config.data.batch_size = steps, batch
    trainer = Trainer(config, out_dir=out_dir, progress=progress, dataset=dataset)
    history = trainer.fit(callback=callback)
    return trainer.model.eval(), history
