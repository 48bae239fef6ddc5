"""Shipped pre-trained weights: int8 storage, the build command, and every shipped file
against its manifest (config, sha256, probe numbers)."""

import json
import shutil

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hjepa_lite.config import Config
from hjepa_lite.shipped import pretrained, weights_build, weights_probe
from hjepa_lite.shipped.int8 import SCALE_SUFFIX, dequantize_state, quantize_state

SHIPPED = pretrained.manifest()["models"]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(2, 9),
    cols=st.integers(1, 9),
    extra=st.sampled_from([(), (3,), (2, 2)]),
    spread=st.floats(1e-6, 1e3),
)
def test_int8_round_trip_is_within_half_a_step_per_output_channel(rows, cols, extra, spread):
    weight = spread * torch.randn(rows, cols, *extra)
    weight[0] = 0.0  # an all-zero channel must not divide by zero
    state = {"w": weight, "b": torch.randn(rows), "steps": torch.tensor(3)}
    stored = quantize_state(state)
    assert stored["w"].dtype == torch.int8 and stored["w"].shape == weight.shape
    assert stored["b"].dtype == torch.float16 and stored["steps"].dtype == torch.int64
    scale = stored["w" + SCALE_SUFFIX]
    assert scale.shape == (rows,)
    back = dequantize_state(stored)
    assert set(back) == set(state)
    error = (back["w"] - weight).abs().flatten(1).amax(1)
    assert torch.all(error <= scale / 2 * (1 + 1e-5) + 1e-30)
    assert torch.equal(back["w"][0], torch.zeros_like(weight[0]))
    torch.testing.assert_close(back["b"], state["b"], rtol=1e-3, atol=1e-3)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One small build (2 steps, a small probe) in a temporary folder, made twice."""
    small = {"train_images": 60, "test_images": 30}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in small.items():
            patch.setitem(pretrained.PROBE, key, value)
        folders = [tmp_path_factory.mktemp(f"weights{i}") for i in range(2)]
        entries = [weights_build.build_weights("tiny_fpn_add", f, False, steps=2) for f in folders]
    return folders, entries


def test_build_is_reproducible_and_the_manifest_says_how(built):
    (folder, _), (first, second) = built
    assert first["sha256"] == second["sha256"]  # training on a CPU is deterministic
    for key in ("config", "steps", "batch", "seed", "commit", "torch", "threads", "bytes"):
        assert key in first, key
    assert first["steps"] == 2 and first["batch"] == pretrained.RECIPE["batch"]
    for probe in ("probe", "probe_fp32", "probe_init"):
        assert len(first[probe]["linear"]) == 3 and len(first[probe]["knn"]) == 3
    on_disk = json.loads((folder / "manifest.json").read_text())["models"]["tiny_fpn_add"]
    assert on_disk == first


def test_a_loaded_model_holds_the_stored_encoder_and_head(built):
    (folder, _), (entry, _) = built
    model = pretrained.load_pretrained("tiny_fpn_add", folder)
    assert not model.training
    assert model.config == Config.from_dict(entry["config"]).model
    online, target = model.context_encoder.state_dict(), model.target_encoder.state_dict()
    for key in target:
        assert torch.equal(online[key], target[key]), key
    history = pretrained.load_history("tiny_fpn_add", folder)
    assert len(history["loss"]) == 2 and set(history) >= {"loss_0", "rank_0", "rank_encoder"}
    images = torch.randn(2, 3, 64, 64)
    assert model.extract_features(images, 1).shape == (2, 16, 192)


def test_a_damaged_file_or_an_unknown_name_is_refused_clearly(built, tmp_path):
    (folder, _), (entry, _) = built
    with pytest.raises(ValueError, match="no pre-trained weights for 'tiny_nope'.*shipped"):
        pretrained.load_pretrained("tiny_nope", folder)
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    data = bytearray((damaged / entry["file"]).read_bytes())
    data[-1] ^= 1
    (damaged / entry["file"]).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its manifest.*weights build"):
        pretrained.load_pretrained("tiny_fpn_add", damaged)


def test_every_shipped_config_has_its_file_and_they_stay_small():
    assert sorted(SHIPPED) == sorted(pretrained.SHIPPED)
    folder = pretrained.weights_folder()
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total <= 25 * 2**20, f"{total / 2**20:.1f} MB of shipped weights (budget: 25 MB)"
    for name, entry in SHIPPED.items():
        assert (folder / entry["file"]).stat().st_size == entry["bytes"], name
        assert entry["steps"] == pretrained.RECIPE["steps"], name
        assert not entry["uncommitted_changes"], f"{name} was built from uncommitted code"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_file_matches_its_config_and_reproduces_its_probe_numbers(name):
    entry = SHIPPED[name]
    assert Config.from_yaml(name).model == Config.from_dict(entry["config"]).model, (
        f"configs/{name}.yaml changed since its weights were built; rebuild them: "
        f"python -m hjepa_lite weights build {name}"
    )
    measured = weights_probe.probe_accuracies(pretrained.load_pretrained(name))
    for probe in ("linear", "knn"):
        for level, (got, want) in enumerate(
            zip(measured[probe], entry["probe"][probe], strict=True)
        ):
            assert abs(got - want) <= weights_probe.probe_tolerance(), (
                name,
                probe,
                level,
                got,
                want,
            )


def test_the_manifest_table_shows_the_asked_configs_or_how_to_build_them(built):
    (folder, _), _ = built
    table = weights_probe.manifest_table(("tiny_fpn_add",), folder)
    assert "| `tiny_fpn_add` |" in table and "1 files" in table
    missing = weights_probe.manifest_table(("tiny_pool",), folder)
    assert "python -m hjepa_lite weights build tiny_pool" in missing


@pytest.mark.parametrize("interrupted_write", [0, 1, 2])  # weights, history, manifest
def test_an_interrupted_build_leaves_the_previous_files_loadable(
    built, interrupted_write, tmp_path, monkeypatch
):
    """Each file is written atomically under a new name and the manifest last, so Ctrl-C at
    any write leaves the previous build whole; a finished build removes what it replaced."""
    (folder, _), (before, _) = built
    work = tmp_path / "weights"
    shutil.copytree(folder, work)
    for key, value in {"train_images": 60, "test_images": 30}.items():
        monkeypatch.setitem(pretrained.PROBE, key, value)
    writes = []

    def counted(write):
        def wrapper(*args):
            if len(writes) == interrupted_write:
                raise KeyboardInterrupt
            writes.append(args[-1])
            return write(*args)

        return wrapper

    for name in ("atomic_write_bytes", "atomic_write_json"):
        monkeypatch.setattr(weights_build, name, counted(getattr(weights_build, name)))
    with pytest.raises(KeyboardInterrupt):
        weights_build.build_weights("tiny_fpn_add", work, False, steps=1)  # other bytes than 2
    assert pretrained.manifest(work)["models"]["tiny_fpn_add"] == before
    pretrained.load_pretrained("tiny_fpn_add", work)  # sha256 checked
    assert len(pretrained.load_history("tiny_fpn_add", work)["loss"]) == 2

    monkeypatch.undo()
    for key, value in {"train_images": 60, "test_images": 30}.items():
        monkeypatch.setitem(pretrained.PROBE, key, value)
    after = weights_build.build_weights("tiny_fpn_add", work, False, steps=1)
    assert after["sha256"] != before["sha256"]
    assert len(pretrained.load_history("tiny_fpn_add", work)["loss"]) == 1
    kept = {p.name for p in work.iterdir()}
    assert kept == {"manifest.json", after["file"], after["history"]}
