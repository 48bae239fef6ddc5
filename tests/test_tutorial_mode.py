"""hjepa_lite.notebook.tutorial_mode: HJEPA_FAST unset or 0 is learner mode, 1 is fast mode,
anything else is refused. The module reads the variable when imported, so each case re-imports
it."""

import importlib

import pytest

import hjepa_lite.notebook.tutorial_mode as tutorial_mode


def reload_with(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("HJEPA_FAST", raising=False)
    else:
        monkeypatch.setenv("HJEPA_FAST", value)
    return importlib.reload(tutorial_mode)


@pytest.fixture(autouse=True)
def restore(monkeypatch):
    yield
    monkeypatch.undo()  # the environment of the test run, then the module as it imports there
    importlib.reload(tutorial_mode)


@pytest.mark.parametrize(("value", "fast"), [(None, False), ("0", False), ("1", True)])
def test_the_switch(monkeypatch, value, fast):
    mode = reload_with(monkeypatch, value)
    assert mode.FAST is fast
    expected_mode, expected_budget = ("fast", (6, 8)) if fast else ("learner", (1000, 32))
    assert expected_mode == mode.MODE
    assert mode.budget(fast=(6, 8), learner=(1000, 32)) == expected_budget
    assert mode.read_fast({} if value is None else {"HJEPA_FAST": value}) is fast


@pytest.mark.parametrize("value", ["true", "yes", "2", "", " 1"])
def test_a_bad_value_is_refused_with_the_valid_ones(monkeypatch, value):
    with pytest.raises(ValueError, match=r"HJEPA_FAST.*=1.*=0 or leave it unset"):
        reload_with(monkeypatch, value)
    with pytest.raises(ValueError, match="HJEPA_FAST"):
        tutorial_mode.read_fast({"HJEPA_FAST": value})
