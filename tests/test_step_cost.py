"""The quick step-cost table of notebooks 07 and 08."""

from hjepa_lite.notebook.step_cost import step_cost_table


def test_one_row_per_config_relative_to_the_first():
    table = step_cost_table(("tiny_fpn_add", "tiny_pool"), batch_size=4, repeats=1)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == ["tiny_fpn_add", "tiny_pool"]
    assert rows[0].endswith("| 1.00x |") and "step time vs tiny_fpn_add" in table
    # the counts that python -m hjepa_lite params tiny_pool prints
    assert "| `tiny_pool` | 2,189,184 | 111,168 |" in rows[1]
