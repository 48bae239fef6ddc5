"""Configs: every file in configs/ loads, every key is read, unknown keys and bad values fail."""

import copy
import dataclasses
import math
from pathlib import Path

import pytest
import torch
import yaml
from conftest import tiny_config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hjepa_lite import ModelConfig, create_hjepa_from_config, load_config, parameter_breakdown
from hjepa_lite.config import Config
from hjepa_lite.model.factory import build_model
from hjepa_lite.train.trainer import Trainer

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
TINY = Path(__file__).parent.parent / "configs" / "tiny_fpn_add.yaml"


def leaves(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def test_there_are_seed_and_tiny_configs():
    names = {path.stem for path in CONFIGS}
    assert {"seed_fpn_add", "seed_fpn_concat", "tiny_pool", "tiny_fpn_add"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_key_of_every_config_round_trips(path):
    config = load_config(path)
    parsed = ModelConfig.from_dict(config["model"]).to_dict()
    for keys, value in leaves(config["model"]):
        got = parsed
        for key in keys:
            got = got[key]
        assert got == value, f"{path.name}: model.{'.'.join(keys)} was not read"


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.stem.startswith("tiny")], ids=str)
def test_tiny_configs_build_and_run(path):
    model = create_hjepa_from_config(load_config(path))
    n = model.num_patches
    mask = torch.zeros(2, n)
    mask[:, : n // 2] = 1
    out = model(torch.randn(2, 3, 64, 64), mask)
    assert len(out["predictions"]) == model.num_levels == 3


def test_seed_vit_base_config_builds_with_the_seed_api():
    """The seed's Example 1, loaded exactly as its Usage section does."""
    with open(CONFIGS[0].parent / "seed_fpn_add.yaml") as f:
        config = yaml.safe_load(f)
    model = create_hjepa_from_config(config)
    assert model.embed_dim == 768 and model.grid_size == (14, 14)
    assert model.hierarchy.feature_dim == 512 and model.hierarchy.use_fpn


# Each model key, changed (and another key cleared where they go together), must change the
# model that is built, so no key is ignored.
PERTURBATIONS = {
    "encoder_type": ("vit_small_patch16_224", "embed_dim"),
    "img_size": (32, None),
    "patch_size": (16, None),
    "embed_dim": (None, None),  # null = the encoder's width: checked below
    "depth": (2, None),
    "num_heads": (6, None),
    "drop_path_rate": (0.3, None),
    "grad_checkpointing": (True, None),
    "num_hierarchies": (2, None),
    "pooling": ("1d_seed", None),
    "targets": ("head", None),  # TINY has pooled targets: an EMA head changes target_ema
    "target_depths": (2, None),
    "normalize_online": (True, None),
    "predictor.embed_dim": (48, None),
    "predictor.depth": (1, None),
    "predictor.num_heads": (6, None),
    "fpn.use_fpn": (False, None),
    "fpn.feature_dim": (64, None),
    "fpn.fusion_method": ("concat", None),
    "fpn.upsample": ("nearest", None),
    "fpn.bottom_up": (True, None),
}


def fingerprint(model):
    encoder = model.context_encoder
    return (
        tuple(parameter_breakdown(model).values()),
        model.grid_size,
        model.hierarchy.pooling,
        model.hierarchy.upsample,
        model.normalize_online,
        model.target_depths,
        encoder.grad_checkpointing,
        encoder.num_heads,
        model.predictor.blocks[0].attn.num_heads,
        float(getattr(encoder.vit.blocks[-1].drop_path1, "drop_prob", 0.0)),
    )


def test_every_model_key_changes_the_model():
    all_keys = {".".join(k) for k, _ in leaves(ModelConfig().to_dict())}
    assert set(PERTURBATIONS) == all_keys, "add a perturbation for every new config key"
    base = load_config(TINY)["model"]
    reference = fingerprint(build_model(ModelConfig.from_dict(base)))
    for key, (value, also_clear) in PERTURBATIONS.items():
        if key == "embed_dim":
            continue
        changed = copy.deepcopy(base)
        *parents, leaf = key.split(".")
        node = changed
        for parent in parents:
            node = node[parent]
        node[leaf] = value
        if also_clear:
            changed[also_clear] = None
        model = build_model(ModelConfig.from_dict(changed))
        assert fingerprint(model) != reference, f"model.{key} is not read"
    assert build_model(ModelConfig.from_dict({**base, "embed_dim": None})).embed_dim == 192


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"use_fpn": True}, r"unknown config key 'model\.use_fpn'.*valid keys under 'model'"),
        ({"fpn": {"fusion": "add"}}, r"unknown config key 'model\.fpn\.fusion'.*fusion_method"),
        ({"predictor": {"width": 8}}, r"unknown config key 'model\.predictor\.width'"),
        ({"fpn": {"fusion_method": "sum"}}, r"'model\.fpn\.fusion_method'='sum'.*'concat'"),
        ({"num_hierarchies": "3"}, r"'model\.num_hierarchies' must be int"),
        ({"fpn": {"use_fpn": "yes"}}, r"'model\.fpn\.use_fpn' must be bool"),
        ({"img_size": None}, r"'model\.img_size' must be int, not null"),
        ({"fpn": [1]}, r"config section 'model\.fpn' must be a mapping"),
        ({"fpn": {"feature_dim": [64, 32]}}, r"fpn\.feature_dim=\[64, 32\].*list of 3"),
        ({"fpn": {"feature_dim": [64, 0, 32]}}, r"'model\.fpn\.feature_dim\[1\]' must be a pos"),
        (
            {"fpn": {"feature_dim": "64"}},
            r"'model\.fpn\.feature_dim' must be an int or a list of ints, one per level or null",
        ),
        ({"fpn": {"upsample": "pixelshuffle"}}, r"'model\.fpn\.upsample'=.*'transposed_conv'"),
        (
            {"fpn": {"fusion_method": "attention", "upsample": "transposed_conv"}},
            r"upsample='transposed_conv' cannot be combined with fusion_method='attention'",
        ),
        ({"fpn": {"use_fpn": False, "bottom_up": True}}, r"bottom_up=True \(PANet\) needs use_fpn"),
    ],
)
def test_bad_config_values_fail_with_the_key_named(change, message):
    config = load_config(TINY)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(config["model"].get(key), dict):
            config["model"][key].update(value)
        else:
            config["model"][key] = value
    with pytest.raises(ValueError, match=message):
        create_hjepa_from_config(config)


def test_unknown_section_and_missing_model(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {}\ntrainng: {}\n")
    with pytest.raises(ValueError, match=r"unknown config section 'trainng'; valid sections"):
        load_config(path)
    with pytest.raises(ValueError, match="no 'model' section"):
        create_hjepa_from_config({})


def test_config_dataclasses_match_the_documented_schema():
    """The schema in hjepa_lite.config's docstring lists every key (docs cannot drift)."""
    import hjepa_lite.config as config_module

    documented = yaml.safe_load(config_module.__doc__.split("::", 1)[1].split('"""')[0])
    doc_keys = {".".join(k) for k, _ in leaves(documented["model"])}
    assert doc_keys == {".".join(k) for k, _ in leaves(ModelConfig().to_dict())}
    defaults = {".".join(k): v for k, v in leaves(dataclasses.asdict(ModelConfig()))}
    for keys, value in leaves(documented["model"]):
        if keys[-1] not in ("encoder_type", "embed_dim", "img_size"):
            assert defaults[".".join(keys)] == value, f"default of {keys} differs from the doc"


# -- random configs: each trains a step or fails at load with the key named ------------------

BASE = tiny_config(steps=2, warmup_steps=1)
BASE["model"]["img_size"], BASE["data"]["batch_size"] = 32, 4
numbers = st.one_of(
    st.floats(-2, 2), st.sampled_from([0.0, 1.0, 0.5, 1.01, -1e-9, math.inf, math.nan])
)
pairs = st.lists(numbers, min_size=0, max_size=3)
DRAWS = {  # key -> values: valid ones and the edges just past them
    "model.img_size": st.sampled_from([16, 24, 32, 30, 0, -8]),
    "model.patch_size": st.sampled_from([8, 16, 5, 0]),
    "model.depth": st.integers(-1, 2),
    "model.num_heads": st.sampled_from([1, 3, 5, 0, None]),
    "model.drop_path_rate": numbers,
    "model.num_hierarchies": st.integers(-1, 5),
    "model.pooling": st.sampled_from(["2d", "1d_seed", "3d"]),
    "model.predictor.embed_dim": st.sampled_from([48, 50, 0, None]),
    "model.predictor.num_heads": st.sampled_from([1, 3, 4, 0, None]),
    "model.fpn.use_fpn": st.booleans(),
    "model.fpn.feature_dim": st.sampled_from([None, 16, [16, 8, 4], [0], [16]]),
    "model.fpn.fusion_method": st.sampled_from(["add", "concat", "attention", "mean"]),
    "model.fpn.upsample": st.sampled_from(["bilinear", "nearest", "transposed_conv", "cubic"]),
    "model.fpn.bottom_up": st.booleans(),
    "data.batch_size": st.sampled_from([1, 4, 64, 0]),
    "masks.num_targets": st.integers(-1, 12),
    "masks.target_scale": pairs,
    "masks.target_aspect": pairs,
    "masks.context_scale": pairs,
    "masks.min_context": st.sampled_from([None, 1, 5, 15, 16, 0]),
    "loss.type": st.sampled_from(["smooth_l1", "mse", "l1"]),
    "loss.level_weights": st.lists(numbers, min_size=0, max_size=4),
    "train.steps": st.integers(-1, 2),
    "train.lr": numbers,
    "train.min_lr": numbers,
    "train.warmup_steps": st.integers(-1, 3),
    "train.weight_decay": pairs,
    "train.ema_momentum": pairs,
    "train.grad_clip": st.one_of(st.none(), numbers),
    "train.seed": st.integers(-1, 3),
    "train.checkpoint_every": st.integers(-1, 2),
}
KEY_NAMES = sorted({key.rsplit(".", 1)[-1] for key in DRAWS} | {"encoder_type"}, key=len)


class RandomImages(torch.utils.data.Dataset):
    def __init__(self, size, n=16):
        self.images = torch.randn(n, 3, size, size)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_random_config_trains_a_step_or_fails_at_load_naming_its_key(data, tmp_path_factory):
    """Every drawn config either trains two steps (with a checkpoint) or raises, before any
    step, a ValueError whose message names a config key; never another exception."""
    config = copy.deepcopy(BASE)
    for key in data.draw(st.lists(st.sampled_from(sorted(DRAWS)), max_size=4, unique=True)):
        *sections, name = key.split(".")
        node = config
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = data.draw(DRAWS[key], label=key)
    try:
        parsed = Config.from_dict(config)
        trainer = Trainer(
            parsed,
            out_dir=tmp_path_factory.mktemp("run"),
            progress=False,
            dataset=RandomImages(parsed.model.img_size),
        )
    except ValueError as error:
        assert any(name in str(error) for name in KEY_NAMES), str(error)
        event("rejected at load")
        return
    trainer.fit()
    event("trained")
    assert trainer.step == parsed.train.steps


# -- load_config: validated at load, YAML numbers, duplicate keys ------------------------------


def write(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_load_config_returns_the_plain_dict_of_the_file(path):
    """Validation changes nothing of a valid file: the same dict yaml.safe_load reads."""
    assert load_config(path) == yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  lr: -1.0\n", r"'train\.lr'=-1\.0 is out of range"),
        ("train:\n  steps: 0\n", r"'train\.steps' must be a positive integer"),
        ("data:\n  batch_size: '8'\n", r"'data\.batch_size' must be int"),
        ("model:\n  use_fpn: true\n", r"unknown config key 'model\.use_fpn'"),
        ("loss:\n  level_weights: [1.0]\n", r"'loss\.level_weights' has 1 values"),
        ("model: 3\n", r"config section 'model' must be a mapping"),
        ("- model\n", r"a config must be a mapping of sections.*'model'"),
    ],
)
def test_load_config_reports_a_bad_value_at_load(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_config(write(tmp_path, text))


def test_exponent_numbers_are_read_as_numbers_where_the_schema_wants_one(tmp_path):
    """PyYAML (YAML 1.1) reads 5e-4 and 1e3 as strings; YAML 1.2 and the config read numbers."""
    text = (
        "data:\n  root: 1e3\n"
        "loss:\n  level_weights: [1e0, 5e-1, 25E-2]\n"
        "train:\n  lr: 5e-4\n  min_lr: 1.0e-6\n  steps: 1e3\n  epochs: 2E0\n  grad_clip: +1e0\n"
    )
    config = load_config(write(tmp_path, text))
    train = config["train"]
    assert train == {"lr": 5e-4, "min_lr": 1e-6, "steps": 1000, "epochs": 2, "grad_clip": 1.0}
    assert type(train["lr"]) is float and type(train["steps"]) is int
    assert config["data"]["root"] == "1e3"  # a folder name stays the text it was
    assert config["loss"]["level_weights"] == [1.0, 0.5, 0.25]
    assert all(type(w) is float for w in config["loss"]["level_weights"])
    parsed = Config.from_yaml(tmp_path / "config.yaml")
    assert parsed.train.lr == 5e-4 and parsed.train.steps == 1000 and parsed.data.root == "1e3"
    yaml.safe_dump(config)  # plain types only


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  steps: 1.5e0\n", r"'train\.steps' must be int.*1\.5e0"),
        ("train:\n  steps: 1e-3\n", r"'train\.steps' must be int"),
        ("train:\n  lr: 1e999\n", r"'train\.lr' must be a finite number"),
        ("train:\n  lr: '5e-4'\n", r"'train\.lr' must be float.*'5e-4'.*without quotes"),
        ("model:\n  fpn:\n    use_fpn: 1e0\n", r"'model\.fpn\.use_fpn' must be bool; got 1e0"),
    ],
)
def test_exponent_numbers_that_do_not_fit_the_schema_say_why(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("train:\n  lr: 0.1\n  steps: 3\n  lr: 0.2\n", "lr", 4),
        ("model: {}\ntrain: {}\nmodel: {img_size: 32}\n", "model", 3),
        ("model:\n  fpn: {use_fpn: true, use_fpn: false}\n", "use_fpn", 2),
    ],
)
def test_a_duplicate_key_is_an_error_naming_the_key_and_its_line(tmp_path, text, key, line):
    with pytest.raises(ValueError, match=rf"duplicate key '{key}'(.|\n)*line {line}") as error:
        load_config(write(tmp_path, text))
    assert isinstance(error.value.__cause__, yaml.YAMLError)


def test_yaml_merge_keys_still_override_without_a_duplicate_error(tmp_path):
    text = "train:\n  <<: {lr: 0.1, steps: 5}\n  lr: 0.2\n"
    assert load_config(write(tmp_path, text))["train"] == {"lr": 0.2, "steps": 5}


def test_a_file_that_is_not_yaml_or_not_utf8_is_a_value_error_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"bad\.yaml.*not valid YAML") as error:
        load_config(write(tmp_path, "train: [1, 2\n", "bad.yaml"))
    assert isinstance(error.value.__cause__, yaml.YAMLError)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("data:\n  root: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.yaml is not valid YAML \(.* must be UTF-8 text"):
        load_config(latin)


def test_a_model_only_config_of_any_depth_loads_with_default_level_weights(tmp_path):
    path = tmp_path / "two_levels.yaml"
    path.write_text("model:\n  num_hierarchies: 2\n")
    assert load_config(path) == {"model": {"num_hierarchies": 2}}
    assert Config.from_yaml(path).loss.level_weights == [1.0, 0.5]


@pytest.mark.parametrize(
    ("vocabulary", "registry"),
    [
        ("FusionMethod", "hjepa_lite.model.fusion:FUSIONS"),
        ("Upsample", "hjepa_lite.model.resample:UPSAMPLERS"),
        ("Pooling", "hjepa_lite.model.geometry:POOLINGS"),
        ("DatasetName", "hjepa_lite.data.datasets:DATASETS"),
        ("LossType", "hjepa_lite.train.loss:LOSS_TYPES"),
        ("Regularizer", "hjepa_lite.train.regularizers:REGULARIZERS"),
    ],
)
def test_each_registry_holds_exactly_the_choices_its_config_key_declares(vocabulary, registry):
    """A choice is declared once, as a Literal in the schema; the code that resolves it agrees."""
    import importlib

    from hjepa_lite import config as schema

    module, name = registry.split(":")
    assert tuple(getattr(importlib.import_module(module), name)) == schema.choices(
        getattr(schema, vocabulary)
    )


def test_the_config_schema_imports_no_module_of_the_package():
    """The config is the bottom of the import graph (the model and the trainer import it): its
    modules import each other only."""
    import ast

    import hjepa_lite.config

    for path in Path(hjepa_lite.config.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = [
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        ] + [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ]
        inside = [name for name in imported if name.startswith("hjepa_lite")]
        upward = [
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level > 1
        ]
        assert not inside and not upward, (path.name, inside or upward)
