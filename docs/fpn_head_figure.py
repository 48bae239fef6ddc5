"""Draw docs/fpn_head.png: the FPN hierarchy head, per level, with the tiny configs' shapes.

Run from the repository root:  python docs/fpn_head_figure.py

It draws what ``hjepa_lite.FeaturePyramid.forward`` computes with ``use_fpn=True`` for the
tiny configs (64 px images, 8 px patches: an 8x8 grid of width D = 192; 3 levels; FPN width
F = D = 192): the pooled pyramid, one lateral connection per level (notebook 02), the
top-down pathway (notebook 03), the fusion (notebook 04) and one output projection per level.
Matplotlib only (no data, no model); the PNG carries no version or date, so the same
matplotlib and fonts give the same bytes.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

OUT = Path(__file__).with_name("fpn_head.png")
POOL, POOL_EDGE = "#fbe3cc", "#b0601a"  # parameter-free
LEARN, LEARN_EDGE = "#dbe8f6", "#2f5f98"  # trained
FUSE, FUSE_EDGE = "#e4f1dc", "#3d7a2a"
GRIDS = {0: 8, 1: 4, 2: 2}  # cells per side of each level
ROW_Y = {2: 10.6, 1: 6.0, 0: 1.4}  # coarsest on top, as in FPN's figures
ROW_H = 2.4
D = F = 192


def box(ax, x, y, w, h, title, body="", face=LEARN, edge=LEARN_EDGE, text_w=None):
    """A rounded box, its bold title and body centred in its first ``text_w`` (all of it)."""
    centre = x + (text_w or w) / 2
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor=face,
            edgecolor=edge,
            linewidth=1.3,
        )
    )
    ax.text(centre, y + h - 0.4, title, ha="center", va="center", fontsize=9.5, weight="bold")
    if body:
        ax.text(centre, y + h - 0.8, body, ha="center", va="top", fontsize=8, linespacing=1.3)


def arrow(ax, start, end, label="", color="black", offset=(0, 0.2), ha="center", **kw):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            linewidth=1.2,
            color=color,
            shrinkA=0,
            shrinkB=0,
            **kw,
        )
    )
    if label:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, label, ha=ha, va="center", fontsize=7.8, color=color)


def grid(ax, x, y, size, n, edge):
    step = size / n
    for row in range(n):
        for col in range(n):
            ax.add_patch(
                Rectangle(
                    (x + col * step, y + row * step),
                    step,
                    step,
                    facecolor="white",
                    edgecolor=edge,
                    linewidth=0.6,
                )
            )


def main() -> None:
    fig = plt.figure(figsize=(12.6, 7.6), dpi=90)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 25.2)
    ax.set_ylim(0, 15.2)
    ax.axis("off")
    ax.text(
        0.3,
        14.7,
        "The FPN hierarchy head, per level (tiny configs: 8x8 patch grid, D = F = 192; B = batch)",
        fontsize=12,
        weight="bold",
        va="center",
    )

    # column x positions
    x_pool, w_pool = 0.3, 4.6
    x_lat, w_lat = 5.6, 3.6
    x_fuse = 11.0
    x_td, w_td = 12.4, 4.4
    x_proj, w_proj = 18.0, 3.4
    x_out = 22.4
    for level, n in GRIDS.items():
        y = ROW_Y[level]
        mid = y + ROW_H / 2
        cells = n * n
        box(
            ax,
            x_pool,
            y,
            w_pool,
            ROW_H,
            f"pooled level {level}",
            f"{n}x{n} cells, (B, {cells}, {D})\n"
            + ("the encoder's tokens" if level == 0 else "2x2 means of level " + str(level - 1)),
            face=POOL,
            edge=POOL_EDGE,
            text_w=w_pool - 1.3,
        )
        grid(ax, x_pool + w_pool - 1.2, y + 0.2, 1.0, n, POOL_EDGE)
        box(
            ax,
            x_lat,
            y,
            w_lat,
            ROW_H,
            f"lateral {level}",
            f"Linear({D} -> {F})\n+ LayerNorm({F})\n-> (B, {cells}, {F})",
        )
        arrow(ax, (x_pool + w_pool, mid), (x_lat, mid))
        # the fusion node (the coarsest level has none: its FPN output is its lateral output)
        if level < 2:
            ax.add_patch(Circle((x_fuse, mid), 0.42, facecolor=FUSE, edgecolor=FUSE_EDGE, lw=1.4))
            ax.text(x_fuse, mid, "fuse", ha="center", va="center", fontsize=8.2, weight="bold")
            arrow(ax, (x_lat + w_lat, mid), (x_fuse - 0.42, mid), "lateral", offset=(0, 0.22))
            ax.text(
                x_fuse,
                mid - 0.6,
                f"fpn_{level}: (B, {cells}, {F})",
                ha="center",
                va="top",
                fontsize=7.8,
            )
            start = x_fuse + 0.42
        else:
            start = x_lat + w_lat
            ax.text(
                x_fuse,
                mid + 0.22,
                f"fpn_2 = lateral_2: (B, {cells}, {F})",
                fontsize=7.8,
                ha="center",
                va="bottom",
            )
        box(
            ax,
            x_proj,
            y,
            w_proj,
            ROW_H,
            f"output projection {level}",
            f"Linear({F} -> {D})",
        )
        arrow(ax, (start, mid), (x_proj, mid))
        ax.text(
            x_out,
            mid,
            f"out_{level}\n(B, {cells}, {D})",
            ha="left",
            va="center",
            fontsize=8.6,
            weight="bold",
        )
        arrow(ax, (x_proj + w_proj, mid), (x_out - 0.1, mid))

    # top-down steps, between the rows: fpn_{l+1} -> layer(upsample(.)) -> fuse at level l
    for level in (1, 0):
        coarse, fine = GRIDS[level + 1], GRIDS[level]
        y_top = ROW_Y[level + 1] + ROW_H / 2
        y_box = ROW_Y[level] + ROW_H + 0.12
        h_box = ROW_Y[level + 1] - y_box - 0.12
        box(
            ax,
            x_td,
            y_box,
            w_td,
            h_box,
            f"top-down step {level}",
            f"upsample {coarse}x{coarse} -> {fine}x{fine} (bilinear)\n"
            f"+ Linear({F} -> {F}) + LayerNorm",
        )
        x_mid = x_td + w_td / 2
        arrow(ax, (x_mid, y_top - 0.02), (x_mid, y_box + h_box))
        ax.add_patch(Circle((x_mid, y_top), 0.09, color="black"))
        mid_fine = ROW_Y[level] + ROW_H / 2
        # out of the box's left side, along to above the fusion node, down into it
        ax.plot([x_td, x_fuse], [y_box + h_box / 2] * 2, color="black", lw=1.2)
        arrow(
            ax,
            (x_fuse, y_box + h_box / 2),
            (x_fuse, mid_fine + 0.42),
            f"top-down: (B, {fine * fine}, {F})",
            offset=(-0.2, -0.25),
            ha="right",
        )

    # what the fusion is, and where each part is built
    ax.text(
        0.4,
        0.55,
        "fuse = add: lateral + top-down  |  concat: Linear(2F -> F)([lateral, top-down])  |  "
        "attention: fine cells attend to the coarse level (no upsampling)",
        fontsize=8,
        ha="left",
        va="center",
        color=FUSE_EDGE,
    )
    notes = [
        (x_pool + w_pool / 2, "notebook 01", POOL_EDGE),
        (x_lat + w_lat / 2, "notebook 02", LEARN_EDGE),
        (x_td + w_td / 2, "notebook 03", LEARN_EDGE),
        (x_fuse, "notebook 04", FUSE_EDGE),
    ]
    for x, text, color in notes:
        ax.text(x, 13.8, text, ha="center", va="center", fontsize=8.5, color=color, style="italic")

    fig.savefig(OUT, dpi=90, metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
