"""The command line on every shipped config: train one step, then probe the run."""

import re
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
    dense = ["probe", str(run), "--dense", "--images", "8", "--sources", "targets", "--baselines"]
    if config["model"].get("pooling") == "1d_seed":  # levels of a flattened sequence: no cells
        _fails(dense, capsys, "a dense probe needs 2-D pooling")
        return
    main(dense)
    table = capsys.readouterr().out
    assert f"| {run} at init | targets | 0 |" in table and "| pixels | pixels | 0 |" in table


def test_probe_rejects_a_non_positive_image_count(capsys):
    with pytest.raises(SystemExit):
        main(["probe", "run", "--images", "0"])
    assert "must be a positive integer" in capsys.readouterr().err


def _fails(argv, capsys, match: str) -> None:
    """The command exits non-zero with ``match`` in its message (argparse: on stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    message = f"{exit_info.value.code} {capsys.readouterr().err}"
    assert exit_info.value.code not in (0, None), message
    assert re.search(match, message), message


@pytest.mark.parametrize("option", ["--steps", "--epochs"])
@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_train_rejects_a_length_that_is_not_positive(option, value, tmp_path, capsys):
    argv = ["train", "--config", "tiny_fpn_add", option, value, "--out", str(tmp_path / "r")]
    _fails(argv, capsys, "must be a positive integer")
    assert not (tmp_path / "r").exists()


def test_train_refuses_an_out_that_is_a_file_or_cannot_be_a_folder(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    for out, why in ((a_file, "is a file"), (a_file / "run", "not a writable folder")):
        argv = ["train", "--config", "tiny_fpn_add", "--steps", "1", "--out", str(out)]
        _fails(argv, capsys, f"--out .*{why}")
    assert a_file.read_text() == "keep me"


def test_probe_checks_k_before_it_loads_anything(capsys):
    _fails(["probe", "no-such-run", "--k", "0"], capsys, "must be a positive integer")
    argv = ["probe", "no-such-run", "--images", "40", "--k", "41"]
    _fails(argv, capsys, r"--k must be between 1 and the number of training images \(40\)")


def test_probe_dense_on_a_shipped_name_equals_the_library(capsys):
    """probe --dense reads a shipped name, adds the run's own init and pixels, and prints
    exactly what probe_dense gives."""
    from hjepa_lite.data.datasets import eval_transform
    from hjepa_lite.data.shapes import ShapesDataset
    from hjepa_lite.evaluation.dense_probe import format_dense_table, probe_dense, untrained_like
    from hjepa_lite.shipped.pretrained import RECIPE, load_pretrained

    argv = ["probe", "tiny_fpn_add", "--dense", "--images", "40", "--baselines"]
    main([*argv, "--sources", "targets", "fpn"])
    printed = capsys.readouterr().out.strip()
    model = load_pretrained("tiny_fpn_add")
    data = [
        ShapesDataset(s, 64, 8, num_images=40, transform=eval_transform(64))
        for s in ["train", "test"]
    ]
    sources = ("targets", "fpn")
    rows = probe_dense(model, *data, sources)
    init = probe_dense(untrained_like(model, RECIPE["seed"]), *data, sources)
    pixels = probe_dense(model, *data, ("pixels",))
    names = ["tiny_fpn_add"] * 6 + ["tiny_fpn_add at init"] * 6 + ["pixels"] * 3
    assert printed == format_dense_table(rows + init + pixels, names)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["probe", "no-such-run", "--images", "40"], "neither a run folder.*'tiny_pool'"),
        (["probe", "tiny_pool", "--dense", "--sources", "edges"], "invalid choice: 'edges'"),
        (["probe", "tiny_pool", "--dataset", "cifar10"], "invalid choice: 'cifar10'"),
        (
            ["probe", "tiny_pool", "--dataset", "photo_objects", "--images", "40"],
            "--images is for Shapes",
        ),
    ],
)
def test_probe_names_what_is_wrong(argv, match, capsys):
    _fails(argv, capsys, match)


@pytest.fixture
def one_entry_folder(one_model):
    """A weights folder whose manifest lists one shipped model (tests/conftest.py)."""
    return one_model[0]


def test_weights_list_reads_the_folder_it_is_given(one_entry_folder, capsys):
    main(["weights", "list", "--folder", str(one_entry_folder)])
    table = capsys.readouterr().out
    assert "| `tiny_pool` |" in table and "1 files" in table and "tiny_fpn_add" not in table
    main(["weights", "list", "--folder", str(one_entry_folder), "tiny_fpn_add"])
    assert "weights build tiny_fpn_add" in capsys.readouterr().out


def test_weights_check_fails_on_a_missing_or_empty_folder_or_an_unknown_name(
    one_entry_folder, tmp_path, capsys
):
    _fails(["weights", "check", "--folder", str(tmp_path / "nope")], capsys, "no folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(["weights", "check", "--folder", str(empty)], capsys, "no weights in")
    argv = ["weights", "check", "--folder", str(one_entry_folder), "tiny_fpn_add"]
    _fails(argv, capsys, r"not in .*\['tiny_fpn_add'\]; there: \['tiny_pool'\]")


@pytest.mark.parametrize(
    ("names", "match"),
    [
        (["tiny_nope"], "no shipped config named 'tiny_nope'"),
        (["tiny_pool", "tiny_nope"], "no shipped config named 'tiny_nope'"),  # before tiny_pool
        (["../tiny_pool"], "not give a plain file name"),
    ],
)
def test_weights_build_checks_every_name_before_it_trains(names, match, tmp_path, capsys):
    folder = tmp_path / "weights"
    _fails(["weights", "build", *names, "--folder", str(folder), "--no-progress"], capsys, match)
    assert not folder.exists() or not any(folder.iterdir())


def test_weights_build_refuses_a_folder_that_is_a_file(tmp_path, capsys):
    a_file = tmp_path / "weights"
    a_file.write_text("")
    argv = ["weights", "build", "tiny_pool", "--folder", str(a_file), "--no-progress"]
    _fails(argv, capsys, "is a file")


@pytest.mark.parametrize("keyword", ["steps", "batch"])
@pytest.mark.parametrize("value", [0, -1, 2.5])
def test_load_or_train_rejects_a_length_that_is_not_positive(keyword, value):
    from hjepa_lite.notebook.load_or_train import load_or_train

    with pytest.raises(ValueError, match=f"{keyword} must be a positive integer"):
        load_or_train("tiny_pool", train=True, **{keyword: value})
