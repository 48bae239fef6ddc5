"""The command line on every shipped config: train one step, then probe the run."""

from pathlib import Path

import pytest
import yaml

from hjepa_lite.cli import main

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_config_trains_one_step_and_probes(path, tmp_path, capsys):
    """The seed's ViT-Base configs leave patch_size null (the timm model's 16): the probe must
    render Shapes at the built encoder's patch size. ViT-Base runs at 64 px with one block."""
    config = yaml.safe_load(path.read_text())
    if config["model"]["encoder_type"].startswith("vit_base"):
        config["model"].update(img_size=64, depth=1)
        config["model"].setdefault("predictor", {})["depth"] = 1
    config.setdefault("data", {})["batch_size"] = 4
    small = tmp_path / path.name
    small.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    main(["train", "--config", str(small), "--steps", "1", "--out", str(run), "--no-progress"])
    assert "finished step 1 of 1" in capsys.readouterr().out
    main(["probe", str(run), "--baselines", "--images", "40", "--k", "5"])
    table = capsys.readouterr().out
    assert "random init" in table and "pixels" in table


def test_probe_rejects_a_non_positive_image_count(capsys):
    with pytest.raises(SystemExit):
        main(["probe", "run", "--images", "0"])
    assert "must be a positive integer" in capsys.readouterr().err
