"""Damaged, truncated and foreign files get a clear error that names the file, never a
traceback from deep inside torch, pickle or safetensors; an interrupted write leaves the old
file whole."""

from argparse import Namespace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from hjepa_lite.shipped import pretrained
from hjepa_lite.train import checkpoint
from hjepa_lite.train.checkpoint import atomic_save, load_checkpoint
from hjepa_lite.train.run_checkpoint import load_trained

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def a_checkpoint(tmp_path_factory) -> bytes:
    """The bytes of a small checkpoint shaped like the Trainer's."""
    path = tmp_path_factory.mktemp("ckpt") / "last.pt"
    state = {"model": {"w": torch.randn(64, 64)}, "config": {}, "step": 3, "history": {}}
    atomic_save({**state, "format": checkpoint.FORMAT, "optimizer": {}}, path)
    return path.read_bytes()


@FAST
@given(data=st.binary(max_size=2048))
def test_random_bytes_are_not_a_checkpoint(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("bytes") / "last.pt"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f"{path} cannot be read as a checkpoint"):
        load_checkpoint(path)


@FAST
@given(fraction=st.floats(0.0, 0.999))
def test_a_truncated_checkpoint_is_named(a_checkpoint, fraction, tmp_path_factory):
    path = tmp_path_factory.mktemp("cut") / "last.pt"
    path.write_bytes(a_checkpoint[: int(fraction * len(a_checkpoint))])
    with pytest.raises(ValueError, match="cannot be read as a checkpoint"):
        load_checkpoint(path)


def test_pickled_code_is_refused_not_run(tmp_path):
    path = tmp_path / "last.pt"
    torch.save(Namespace(payload="anything that is not tensors and plain data"), path)
    with pytest.raises(ValueError, match="cannot be read as a checkpoint"):
        load_checkpoint(path)


def test_a_foreign_torch_file_is_not_taken_for_a_run(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match=r"not an hjepa_lite training checkpoint.*state_dict"):
        load_trained(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_trained(tmp_path)  # a folder without last.pt


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    atomic_save({"step": 1}, path)

    def half_then_interrupt(obj, f):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


@settings(FAST, suppress_health_check=[HealthCheck.function_scoped_fixture])  # rewritten each time
@given(fraction=st.floats(0.0, 0.999))
def test_a_truncated_weights_file_is_named(one_model, fraction):
    folder, entry = one_model
    path = folder / entry["file"]
    data = (pretrained.weights_folder() / entry["file"]).read_bytes()
    path.write_bytes(data[: int(fraction * len(data))])
    with pytest.raises(ValueError, match="does not match its manifest"):
        pretrained.load_pretrained("tiny_pool", folder)  # the sha256 is checked first
    with pytest.raises(ValueError, match=f"{path} is not a readable safetensors"):
        pretrained.model_from_file(entry["config"], path)  # and the reader names it too


def test_a_foreign_safetensors_file_is_named(one_model):
    folder, entry = one_model
    path = folder / entry["file"]
    save_file({"backbone.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match=f"{path} lacks .* tensors"):
        pretrained.model_from_file(entry["config"], path)
    state = load_file(pretrained.weights_folder() / entry["file"])
    state["target_encoder.pos_embed"] = torch.zeros(1, 2, 3)  # another model's grid
    save_file(state, path)
    with pytest.raises(ValueError, match=f"{path} does not fit its config"):
        pretrained.model_from_file(entry["config"], path)


@pytest.mark.parametrize("damage", [b"", b'{"models": ', b"\xff\xfe", b"[1, 2]"])
def test_a_damaged_manifest_is_named(one_model, damage):
    folder, _ = one_model
    (folder / "manifest.json").write_bytes(damage)
    with pytest.raises(ValueError, match="manifest.json (is damaged|is not a weights manifest)"):
        pretrained.load_pretrained("tiny_pool", folder)


def test_a_missing_weights_or_history_file_is_named(one_model):
    folder, entry = one_model
    (folder / entry["history"]).unlink()
    with pytest.raises(ValueError, match=f"{entry['history']} is missing"):
        pretrained.load_history("tiny_pool", folder)
    (folder / entry["file"]).unlink()
    with pytest.raises(ValueError, match=f"{entry['file']} is missing"):
        pretrained.load_pretrained("tiny_pool", folder)
