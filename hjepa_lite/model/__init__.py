"""The H-JEPA model, bottom up: ``encoder`` (timm ViT on the visible tokens) and ``predictor``;
the pyramid (``geometry``: level sizes and pooling layouts, ``pyramid``: pooled levels and
target masks, ``resample``: between level grids); the head (``fpn`` with ``top_down``,
``bottom_up``, ``fusion``, ``linear_norm``); ``hjepa`` (the model), ``factory`` (building it)
and ``params`` (parameter counts). Nothing here imports data, training or notebook helpers."""
