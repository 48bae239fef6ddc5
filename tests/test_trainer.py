"""The trainer: determinism, exact resume, atomic checkpoints, NaN guard, schedules, DDP."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import tiny_config

import hjepa_lite.train.trainer as trainer_module
from hjepa_lite.config import Config
from hjepa_lite.data.shapes import ShapesDataset
from hjepa_lite.train.checkpoint import atomic_save, load_checkpoint
from hjepa_lite.train.run_checkpoint import load_trained
from hjepa_lite.train.trainer import Trainer

REPO = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def data():
    from hjepa_lite.data.datasets import train_transform

    return ShapesDataset("train", img_size=64, num_images=64, transform=train_transform(64))


def run(config, data, out_dir=None, callback=None, resume=True):
    trainer = Trainer(config, out_dir=out_dir, progress=False, dataset=data, resume=resume)
    trainer.fit(callback)
    return trainer


def test_same_seed_same_losses_and_another_seed_differs(data):
    a = run(tiny_config(), data).history["loss"]
    b = run(tiny_config(), data).history["loss"]
    c = run(tiny_config(seed=1), data).history["loss"]
    assert len(a) == 6 and a == b
    assert a != c


def test_resume_after_interrupt_repeats_the_uninterrupted_run_exactly(data, tmp_path):
    """Steps cross an epoch boundary (64 images / batch 8 = 8 steps per epoch)."""
    full = run(tiny_config(steps=12, checkpoint_every=5), data, tmp_path / "full")

    def interrupt_at_7(trainer):
        if trainer.step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tiny_config(steps=12, checkpoint_every=5), data, tmp_path / "cut", interrupt_at_7)
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["step"] == 5
    resumed = run(tiny_config(steps=12, checkpoint_every=5), data, tmp_path / "cut")
    timing = "images_per_s"  # wall-clock: the only logged value allowed to differ
    assert resumed.history.keys() == full.history.keys()
    for key in full.history:
        if key != timing:
            a, b = (torch.tensor(run.history[key]) for run in (resumed, full))
            torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=key)
    full_state, resumed_state = full.model.state_dict(), resumed.model.state_dict()
    for key in full_state:
        torch.testing.assert_close(full_state[key], resumed_state[key], rtol=0, atol=0)


def test_fit_until_stops_on_the_whole_runs_schedule_and_a_later_fit_ends_it_exactly(data, tmp_path):
    full = run(tiny_config(steps=10), data, tmp_path / "full")
    part = Trainer(tiny_config(steps=10), out_dir=tmp_path / "part", progress=False, dataset=data)
    early = {key: list(values) for key, values in part.fit(until=4).items()}
    assert part.step == 4 and load_checkpoint(tmp_path / "part" / "last.pt")["step"] == 4
    assert len(early["loss"]) == 4
    for key in ("loss", "lr", "momentum"):  # the schedules of all 10 steps, cut at 4
        assert early[key] == full.history[key][:4], key
    assert part.fit(until=3)["loss"] == early["loss"]  # at or past `until`: nothing trains
    resumed = run(tiny_config(steps=10), data, tmp_path / "part")
    for key in ("loss", "lr", "momentum"):
        assert resumed.history[key] == full.history[key], key


@pytest.mark.parametrize("until", [0, 11, -1, 2.5, True, "4"])
def test_fit_until_outside_the_run_is_refused_before_a_step(data, until):
    trainer = Trainer(tiny_config(steps=10), progress=False, dataset=data)
    with pytest.raises(ValueError, match=r"until=.* 1\.\.10"):
        trainer.fit(until=until)
    assert trainer.step == 0


def test_resume_refuses_a_different_model(data, tmp_path):
    run(tiny_config(steps=2), data, tmp_path)
    other = tiny_config(steps=2)
    other["model"]["num_hierarchies"] = 2
    other["loss"] = {"level_weights": [1.0, 0.5]}
    with pytest.raises(ValueError, match=r"model\.num_hierarchies was 3 in the checkpoint, 2 now"):
        Trainer(other, out_dir=tmp_path, progress=False, dataset=data)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("train", "seed", 1, r"train\.seed was 0 in the checkpoint, 1 now"),
        ("train", "lr", 1e-3, r"train\.lr was 0\.0005 in the checkpoint, 0\.001 now"),
        ("data", "batch_size", 4, r"data\.batch_size was 8 in the checkpoint, 4 now"),
    ],
)
def test_resume_refuses_a_changed_seed_lr_or_batch_naming_the_field(
    data, tmp_path, section, key, value, message
):
    run(tiny_config(steps=2), data, tmp_path)
    changed = tiny_config(steps=3)
    changed.setdefault(section, {})[key] = value
    with pytest.raises(ValueError, match=message + r".*--fresh"):
        Trainer(changed, out_dir=tmp_path, progress=False, dataset=data)


def test_resume_refuses_another_world_size(data, tmp_path):
    run(tiny_config(steps=2), data, tmp_path)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["world_size"] == 1
    state["world_size"] = 2
    atomic_save(state, tmp_path / "last.pt")
    with pytest.raises(ValueError, match=r"world size was 2 in the checkpoint, 1 now"):
        Trainer(tiny_config(steps=3), out_dir=tmp_path, progress=False, dataset=data)


def test_resume_accepts_more_steps_and_another_num_workers(data, tmp_path):
    """num_workers does not change the batches (SeededAugmentation), nor steps the past."""
    run(tiny_config(steps=2), data, tmp_path)
    changed = tiny_config(steps=3, checkpoint_every=3)
    changed["data"]["num_workers"] = 1
    trainer = Trainer(changed, out_dir=tmp_path, progress=False, dataset=data)
    assert trainer.step == 2 and trainer.loader.num_workers == 1


@pytest.mark.parametrize(("key", "value"), [("steps", 0), ("steps", -3), ("epochs", 0)])
def test_a_config_object_without_steps_is_rejected_before_anything_runs(
    data, tmp_path, monkeypatch, key, value
):
    """The CLI and load_or_train edit a Config after loading it: the Trainer checks it again."""
    config = Config.from_dict(tiny_config())
    setattr(config.train, key, value)
    monkeypatch.setattr(trainer_module, "build_model", lambda *a, **k: pytest.fail("built"))
    with pytest.raises(ValueError, match=rf"'train\.{key}' must be a positive integer"):
        Trainer(config, out_dir=tmp_path / "run", progress=False, dataset=data)
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_from_before_a_new_config_key_still_resumes(data, tmp_path):
    """Keys added to the schema later (here fpn.bottom_up) take their defaults."""
    run(tiny_config(steps=2), data, tmp_path)
    path = tmp_path / "last.pt"
    state = load_checkpoint(path)
    del state["config"]["model"]["fpn"]["bottom_up"]
    atomic_save(state, path)
    resumed = Trainer(tiny_config(steps=3), out_dir=tmp_path, progress=False, dataset=data)
    assert resumed.step == 2


def test_the_trainer_builds_its_data_as_the_config_says(data, monkeypatch):
    """data.augment reaches build_dataset, and so does the encoder's patch size (Shapes sizes
    its objects in patches)."""
    import hjepa_lite.data.loader as loader_module

    calls = []
    monkeypatch.setattr(
        loader_module, "build_dataset", lambda *args, **kwargs: calls.append(kwargs) or data
    )
    for augment, patch_size in ((False, 16), (True, 8)):
        config = tiny_config(steps=1)
        config["data"]["augment"] = augment
        config["model"]["patch_size"] = patch_size
        Trainer(config, progress=False)
        assert calls[-1]["augment"] is augment and calls[-1]["patch_size"] == patch_size


def test_nan_loss_stops_with_the_step_named(data, tmp_path, monkeypatch):
    real = trainer_module.objective
    calls = {"n": 0}

    def nan_at_third_call(*args, **kwargs):
        calls["n"] += 1
        loss, per_level, reg = real(*args, **kwargs)
        return (loss * float("nan") if calls["n"] == 3 else loss), per_level, reg

    monkeypatch.setattr(trainer_module, "objective", nan_at_third_call)
    with pytest.raises(FloatingPointError, match=r"loss became nan at step 2.*last\.pt is intact"):
        run(tiny_config(), data, tmp_path)
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 2


def test_an_interrupted_save_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    atomic_save({"step": 1, "w": torch.ones(3)}, path)

    def save_then_interrupt(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"step": 2}, path)
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"], "no temporary file left"


def test_schedules_optimizer_groups_and_ema_in_history(data):
    trainer = run(tiny_config(steps=6, lr=1e-3, min_lr=1e-5), data)
    h = trainer.history
    assert h["momentum"][0] == pytest.approx(0.996) and h["momentum"][-1] == pytest.approx(1.0)
    assert h["weight_decay"][0] == pytest.approx(0.04) and h["weight_decay"][-1] == 0.4
    assert h["lr"][:2] == pytest.approx([5e-4, 1e-3]) and h["lr"][-1] == pytest.approx(1e-5)
    decay, no_decay = trainer.optimizer.param_groups
    assert all(p.ndim >= 2 for p in decay["params"]) and no_decay["weight_decay"] == 0.0
    assert all(p.ndim <= 1 for p in no_decay["params"])
    assert all(s > 0 for s in h["std_0"])


def test_ema_moves_only_after_a_step_and_toward_the_online_weights(data):
    trainer = Trainer(tiny_config(steps=1), progress=False, dataset=data)
    target_before = [p.clone() for p in trainer.model.target_encoder.parameters()]
    trainer.fit()
    m = trainer.history["momentum"][0]
    for before, online, after in zip(
        target_before,
        trainer.model.context_encoder.parameters(),
        trainer.model.target_encoder.parameters(),
        strict=True,
    ):
        torch.testing.assert_close(after, m * before + (1 - m) * online)


def test_load_trained_returns_the_trained_model(data, tmp_path):
    trainer = run(tiny_config(steps=2), data, tmp_path)
    model, history = load_trained(tmp_path)
    assert history["loss"] == trainer.history["loss"] and not model.training
    images = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(
        model.extract_features(images, 1), trainer.model.eval().extract_features(images, 1)
    )


def test_cli_trains_writes_a_checkpoint_and_resumes(tmp_path):
    config = tmp_path / "tiny.yaml"
    cfg = tiny_config(steps=2)
    cfg["model"]["img_size"] = 32
    config.write_text(yaml.safe_dump(cfg))
    command = [sys.executable, "-m", "hjepa_lite", "train", "--config", str(config)]
    command += ["--out", str(tmp_path / "run"), "--no-progress"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "finished step 2 of 2" in first.stdout
    second = subprocess.run(
        [*command, "--steps", "3"], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert "Resuming from" not in second.stdout  # --no-progress keeps it quiet
    assert "finished step 3 of 3" in second.stdout, second.stderr


@pytest.mark.slow
def test_torchrun_two_cpu_ranks_end_with_identical_weights(tmp_path):
    config = tmp_path / "tiny.yaml"
    cfg = tiny_config(steps=3)
    cfg["model"]["img_size"] = 32
    config.write_text(yaml.safe_dump(cfg))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command = [*torchrun, "-m", "hjepa_lite", "train", "--config", str(config)]
    command += ["--out", str(tmp_path / "run"), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "weights identical on 2 ranks after step 3" in result.stdout
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 3


NAN_ON_RANK_1 = """
import os, sys, torch
from hjepa_lite.train.trainer import Trainer
import yaml

class Images(torch.utils.data.Dataset):
    def __init__(self):
        self.images = torch.randn(32, 3, 32, 32)
    def __len__(self):
        return len(self.images)
    def __getitem__(self, i):
        return self.images[i], 0

def poison_rank_1_after_two_steps(trainer):
    if trainer.step == 2 and os.environ["RANK"] == "1":
        images[:] = float("nan")

config = yaml.safe_load(open(sys.argv[1]))
data = Images()
images = data.images
trainer = Trainer(config, out_dir=sys.argv[1] + ".run", progress=False, dataset=data)
try:
    trainer.fit(callback=poison_rank_1_after_two_steps)
except FloatingPointError as error:
    print(f"rank {os.environ['RANK']} stopped: {error}", flush=True)
    raise
"""


@pytest.mark.slow
def test_a_nan_on_one_rank_stops_every_rank_with_the_same_error(tmp_path):
    """Rank 1's images turn to NaN after two clean steps: both ranks must raise at the same
    step (none may wait in the gradient all-reduce), and the checkpoint of the clean steps
    stays intact."""
    script, config = tmp_path / "nan_rank.py", tmp_path / "tiny.yaml"
    script.write_text(NAN_ON_RANK_1)
    cfg = tiny_config(steps=4)
    cfg["model"]["img_size"] = 32
    cfg["data"]["batch_size"] = 4
    cfg["train"]["checkpoint_every"] = 2
    config.write_text(yaml.safe_dump(cfg))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command = [*torchrun, str(script), str(config)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for rank in (0, 1):
        assert f"rank {rank} stopped: loss became non-finite on rank(s) [1] at step 2" in output
    assert load_checkpoint(tmp_path / "tiny.yaml.run" / "last.pt")["step"] == 2


def test_a_checkpoint_of_an_older_format_is_refused_with_the_reason(data, tmp_path):
    run(tiny_config(steps=1), data, tmp_path)
    state = load_checkpoint(tmp_path / "last.pt")
    state["format"] = 1
    atomic_save(state, tmp_path / "last.pt")
    with pytest.raises(ValueError, match=r"checkpoint format 1, this version reads 2.*--fresh"):
        Trainer(tiny_config(steps=2), out_dir=tmp_path, progress=False, dataset=data)
    with pytest.raises(ValueError, match="earlier hjepa_lite"):
        load_trained(tmp_path)


def test_a_checkpoint_names_no_module_of_the_package(data, tmp_path):
    """last.pt holds tensors and plain data only (it loads with ``weights_only=True``): no class
    path of hjepa_lite is pickled, so moving a module cannot stop an old checkpoint loading
    (issue 28 moved every module; a run saved before the move resumes after it)."""
    import pickletools
    import zipfile

    run(tiny_config(steps=1), data, tmp_path)
    with zipfile.ZipFile(tmp_path / "last.pt") as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("data.pkl")]
        pickled = archive.read(name)
    found = {arg.split()[0] for op, arg, _ in pickletools.genops(pickled) if op.name == "GLOBAL"}
    assert found and found <= {"collections", "torch", "torch._utils"}, found
    assert b"hjepa_lite" not in pickled
    model, _ = load_trained(tmp_path)
    assert model.state_dict().keys() == load_checkpoint(tmp_path / "last.pt")["model"].keys()
