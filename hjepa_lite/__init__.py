"""hjepa_lite: a Hierarchical I-JEPA with a Feature Pyramid Network, small enough to learn from.

The seed's API::

    from hjepa_lite import create_hjepa, create_hjepa_from_config
    model = create_hjepa("vit_base_patch16_224", img_size=224, embed_dim=768,
                         num_hierarchies=3, use_fpn=True, fpn_feature_dim=512,
                         fpn_fusion_method="add")
    outputs = model(images, mask, return_all_levels=True)   # predictions / targets per level
    features = model.extract_features(images, level=1)       # (B, N_1, D)
"""

from .config import FPNConfig, ModelConfig, PredictorConfig, load_config
from .core.masks import MaskBatch, MultiBlockMaskSampler
from .data.datasets import build_dataset
from .data.shapes import ShapesDataset
from .model.encoder import PatchEncoder
from .model.factory import build_model, create_hjepa, create_hjepa_from_config
from .model.fpn import FeaturePyramid
from .model.fusion import FUSION_METHODS
from .model.geometry import POOLING_MODES, level_grid_sizes
from .model.hjepa import HJEPA
from .model.params import count_parameters, head_breakdown, parameter_breakdown, seed_fpn_formula
from .model.predictor import Predictor
from .model.pyramid import (
    build_pyramid,
    pool_mask,
    pool_tokens,
    pooling_groups,
    target_mask_pyramid,
    upsample_tokens,
)
from .model.resample import UPSAMPLE_MODES
from .train.loss import hierarchical_loss
from .train.run_checkpoint import load_trained
from .train.trainer import Trainer

__all__ = [
    "FPNConfig",
    "MaskBatch",
    "MultiBlockMaskSampler",
    "ShapesDataset",
    "Trainer",
    "build_dataset",
    "build_model",
    "hierarchical_loss",
    "load_trained",
    "FUSION_METHODS",
    "HJEPA",
    "ModelConfig",
    "POOLING_MODES",
    "PatchEncoder",
    "FeaturePyramid",
    "Predictor",
    "PredictorConfig",
    "UPSAMPLE_MODES",
    "build_pyramid",
    "count_parameters",
    "create_hjepa",
    "create_hjepa_from_config",
    "head_breakdown",
    "level_grid_sizes",
    "load_config",
    "parameter_breakdown",
    "pool_mask",
    "pool_tokens",
    "pooling_groups",
    "seed_fpn_formula",
    "target_mask_pyramid",
    "upsample_tokens",
]
