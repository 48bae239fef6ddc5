"""Configuration: the seed's YAML schema and its validation (the model's factory reads
it). The bottom of the package: it imports no other part of it.

``schema`` (the dataclasses, :func:`load_config`), ``vocabulary`` (each option's choices,
declared once), ``checks`` (values against annotations), ``yaml_reader`` (YAML 1.2 numbers,
duplicate keys).

Every key is optional (the defaults are shown); an unknown key or section is rejected with
the list of valid ones, and every key is read by the code. :func:`load_config` checks a file
against the schema when it reads it. It reads numbers as YAML 1.2 does: ``5e-4`` and ``1e3``
(strings to PyYAML, which follows YAML 1.1) are numbers, ``1e3`` an integer where the schema
wants one; a key given twice in one mapping is an error. Schema::

    model:
      encoder_type: vit_base_patch16_224   # a timm ViT name (architecture only, no weights)
      img_size: 224
      patch_size: null        # null -> the named model's patch size
      embed_dim: null         # must equal the named model's width (null -> that width)
      depth: null             # null -> the named model's depth
      num_heads: null         # null -> the named model's heads
      drop_path_rate: 0.0
      grad_checkpointing: false
      num_hierarchies: 3
      pooling: 2d             # 2d | 1d_seed (the seed's flattened pooling, for teaching)
      targets: head           # head: EMA copy of the hierarchy on the target path
                              # pooled: parameter-free targets, the pooled EMA encoder tokens
                              # top_down: pooled, then each coarser level added (upsampled) below
      target_depths: 1        # the targets' tokens: the mean of the EMA encoder's last k blocks,
                              # each layer-normed (data2vec's targets); 1 -> the last block only
      normalize_online: false # layer-norm the online grid before the head, as the targets are
      predictor:
        embed_dim: null       # null -> embed_dim // 2
        depth: 6
        num_heads: null       # null -> the encoder's heads
      fpn:
        use_fpn: false
        feature_dim: null     # int, one int per level (finest first), or null -> embed_dim
        fusion_method: add    # add | concat | attention (fine tokens cross-attend to coarse)
        upsample: bilinear    # bilinear | nearest | transposed_conv (learned 2x2, stride 2)
        bottom_up: false      # PANet: a bottom-up path after the top-down one
    data:
      dataset: shapes         # shapes | cifar10 | stl10 | imagefolder | photo_crops | photo_objects
      root: data              # where real data sets live (relative to the working directory)
      download: false         # let torchvision download cifar10 / stl10 (needs internet)
      augment: true           # I-JEPA's RandomResizedCrop (scale 0.3-1.0) on training images
      fresh_images: false     # shapes only: render new training images every epoch
      batch_size: 64          # per process
      num_workers: 0
    masks:                    # I-JEPA multi-block masks (fractions of the patch grid)
      num_targets: 4
      target_scale: [0.15, 0.2]
      target_aspect: [0.75, 1.5]
      context_scale: [0.85, 1.0]
      min_context: null       # null -> the sampler's default for the grid
    loss:
      type: smooth_l1         # smooth_l1 | mse
      level_weights: [1.0, 0.5, 0.25]   # one per level, finest first (default: 0.5**l)
      regularizer: none       # none | vicreg | sigreg: anti-collapse term on the context tokens
      regularizer_weight: 1.0 # its weight in the total loss (>= 0)
      context_weight: 0.0     # V-JEPA 2.1's loss on visible cells too, weighted 1/sqrt(distance
                              # to the mask) (>= 0; 0 = I-JEPA: hidden cells only)
    train:
      steps: 300              # optimizer steps (or set epochs instead)
      epochs: null            # epochs over the data set; overrides steps when set
      lr: 0.0005              # peak learning rate, after warmup
      min_lr: 1.0e-06         # end of the cosine decay
      warmup_steps: 30
      weight_decay: [0.04, 0.4]     # cosine from the first to the second value
      ema_momentum: [0.996, 1.0]    # linear from the first to the second value
      grad_clip: 1.0          # max gradient norm (null = off)
      seed: 0
      checkpoint_every: 100   # steps between checkpoints (the last step is always saved)
"""

from .checks import check_sections
from .schema import (
    Config,
    DataConfig,
    FPNConfig,
    LossConfig,
    MaskConfig,
    ModelConfig,
    PredictorConfig,
    TrainConfig,
    load_config,
)
from .vocabulary import (
    CONFIG_SECTIONS,
    DEFAULT_POOLING,
    TARGETS,
    DatasetName,
    FusionMethod,
    LossType,
    Pooling,
    Regularizer,
    Targets,
    Upsample,
    choices,
)
from .yaml_reader import ConfigLoader

__all__ = [
    "CONFIG_SECTIONS",
    "Config",
    "ConfigLoader",
    "DEFAULT_POOLING",
    "DataConfig",
    "DatasetName",
    "FPNConfig",
    "FusionMethod",
    "LossConfig",
    "LossType",
    "MaskConfig",
    "ModelConfig",
    "Pooling",
    "PredictorConfig",
    "Regularizer",
    "TARGETS",
    "Targets",
    "TrainConfig",
    "Upsample",
    "check_sections",
    "choices",
    "load_config",
]
