"""Draw docs/architecture.png: the whole H-JEPA with a feature pyramid, in one picture.

Run from the repository root:  python docs/architecture_figure.py

It draws what ``hjepa_lite.HJEPA.forward`` computes with ``model.targets: pooled`` (the tiny
configs): the hierarchy head sits on the online path only, and the targets are the EMA
encoder's layer-normed tokens, average-pooled per level and layer-normed again
(``HJEPA.target_pyramid``). The design document's variant (``targets: head``: an EMA copy of
the head on the target path) is the dashed box. Matplotlib only (no data, no model), and the
PNG carries no version or date, so the same matplotlib and fonts give the same bytes.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

OUT = Path(__file__).with_name("architecture.png")
ONLINE, ONLINE_EDGE = "#dbe8f6", "#2f5f98"  # trained: gradients flow
TARGET, TARGET_EDGE = "#fbe3cc", "#b0601a"  # no gradient: EMA copy or parameter-free
LOSS, LOSS_EDGE = "#e4f1dc", "#3d7a2a"
GREY = "#666666"


def box(ax, x, y, w, h, title, body="", face=ONLINE, edge=ONLINE_EDGE, dashed=False, top=None):
    """A rounded box with a bold title and smaller body text; returns its (x, y, w, h)."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.25",
            facecolor=face,
            edgecolor=edge,
            linewidth=1.4,
            linestyle=(0, (4, 3)) if dashed else "-",
        )
    )
    top = y + h - 0.45 if top is None else top
    ax.text(x + w / 2, top, title, ha="center", va="center", fontsize=10.5, weight="bold")
    if body:
        ax.text(x + w / 2, top - 0.4, body, ha="center", va="top", fontsize=8.4, linespacing=1.35)
    return x, y, w, h


def arrow(ax, start, end, label="", dashed=False, color="black", label_offset=(0, 0.28), **kw):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=13,
            linewidth=1.3,
            color=color,
            linestyle=(0, (4, 3)) if dashed else "-",
            shrinkA=0,
            shrinkB=0,
            **kw,
        )
    )
    if label:
        mid = ((start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1])
        ax.text(*mid, label, ha="center", va="center", fontsize=8.3, color=color)


def grid(ax, x, y, size, n, shaded=(), color="#9aa7b5"):
    """An n x n grid of side `size` with its lower-left corner at (x, y); `shaded` cells
    (row, col), row 0 on top, are filled grey."""
    step = size / n
    for row in range(n):
        for col in range(n):
            fill = "#8c8c8c" if (row, col) in shaded else "white"
            ax.add_patch(
                Rectangle(
                    (x + col * step, y + size - (row + 1) * step),
                    step,
                    step,
                    facecolor=fill,
                    edgecolor=color,
                    linewidth=0.6,
                )
            )


def pyramid(ax, x, y, edge):
    """Level 0, 1, 2 of an 8x8 patch grid (8x8, 4x4, 2x2 cells), side by side."""
    for k, n in enumerate((8, 4, 2)):
        grid(ax, x + k * 0.95, y, 0.8, n, color=edge)
        ax.text(x + k * 0.95 + 0.4, y - 0.22, f"level {k}", ha="center", va="top", fontsize=7.5)


def main() -> None:
    fig = plt.figure(figsize=(12.4, 6.4), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 24.8)
    ax.set_ylim(0, 12.8)
    ax.axis("off")

    ax.text(
        0.3,
        12.35,
        "H-JEPA with a feature pyramid: one training step "
        "(model.targets: pooled, the tiny configs)",
        fontsize=12.5,
        weight="bold",
        va="center",
    )

    # the image and its patches; grey = hidden (the target blocks), white = visible context
    hidden = {(r, c) for r in range(2, 5) for c in range(3, 7)}
    box(ax, 0.2, 4.3, 2.9, 3.5, "image", face="white", edge=GREY)
    grid(ax, 0.55, 4.95, 2.2, 8, shaded=hidden)
    ax.text(1.65, 4.62, "8x8 patches, grey = hidden", ha="center", va="center", fontsize=7.2)

    # online path (top row)
    y_on, h_on = 7.6, 2.9
    body = "ViT on the VISIBLE\npatches only\n(B, K, D)"
    enc = box(ax, 3.9, y_on, 3.6, h_on, "context encoder", body)
    pred = box(
        ax,
        8.2,
        y_on,
        3.9,
        h_on,
        "predictor",
        "narrow ViT: context + one\nmask token per hidden patch\n-> online grid (B, N, D)",
    )
    head = box(
        ax,
        12.8,
        y_on,
        3.9,
        h_on,
        "hierarchy head",
        "pooling-only: 2x2 means,\nor FPN: lateral, top-down,\n"
        "fusion (add / concat);\nprojection per level",
    )
    preds = box(ax, 17.4, y_on, 3.0, h_on, "predictions", "one map per level")
    pyramid(ax, 17.55, y_on + 0.5, ONLINE_EDGE)

    # target path (bottom row)
    y_t, h_t = 1.6, 2.9
    tenc = box(
        ax,
        3.9,
        y_t,
        3.6,
        h_t,
        "target encoder",
        "EMA copy of the context\nencoder, on ALL patches\n(B, N, D)",
        face=TARGET,
        edge=TARGET_EDGE,
    )
    norm = box(
        ax,
        8.2,
        y_t,
        3.9,
        h_t,
        "layer norm",
        "per token,\nno parameters",
        face=TARGET,
        edge=TARGET_EDGE,
    )
    pool = box(
        ax,
        12.8,
        y_t,
        3.9,
        h_t,
        "pooled per level",
        "level l: means of 2^l x 2^l\npatches, then layer norm;\nno parameters",
        face=TARGET,
        edge=TARGET_EDGE,
    )
    body = "one map per level"
    targ = box(ax, 17.4, y_t, 3.0, h_t, "targets", body, face=TARGET, edge=TARGET_EDGE)
    pyramid(ax, 17.55, y_t + 0.5, TARGET_EDGE)

    # the design document's variant: an EMA copy of the head instead of the pooling
    box(
        ax,
        12.3,
        0.1,
        8.4,
        1.2,
        "",
        face="white",
        edge=TARGET_EDGE,
        dashed=True,
    )
    ax.text(
        16.5,
        0.7,
        "design document's variant (targets: head, create_hjepa's default):\n"
        "an EMA copy of the hierarchy head instead of the pooling",
        ha="center",
        va="center",
        fontsize=8.3,
        color=TARGET_EDGE,
    )

    # loss
    loss = box(
        ax,
        21.2,
        4.25,
        3.4,
        3.6,
        "loss",
        "per level l: smooth-L1\non the VALID cells\n(wholly inside the\n"
        "target blocks);\ntotal = sum_l w_l loss_l",
        face=LOSS,
        edge=LOSS_EDGE,
    )

    # regularizer on the context tokens, added to the loss
    box(
        ax,
        3.9,
        10.95,
        8.2,
        0.9,
        "",
        face=LOSS,
        edge=LOSS_EDGE,
    )
    ax.text(
        8.0,
        11.4,
        "regularizer on the context tokens (VICReg, tiny configs)",
        ha="center",
        va="center",
        fontsize=8.6,
    )
    ax.plot([12.1, 22.9], [11.4, 11.4], color=LOSS_EDGE, lw=1.3)
    arrow(ax, (5.7, y_on + h_on), (5.7, 10.95), color=LOSS_EDGE)
    arrow(ax, (22.9, 11.4), (22.9, loss[1] + loss[3]), color=LOSS_EDGE)
    ax.text(23.0, 10.0, "+", fontsize=12, color=LOSS_EDGE, weight="bold")

    def right(b):
        return b[0] + b[2], b[1] + b[3] / 2

    def left(b):
        return b[0], b[1] + b[3] / 2

    # image -> both encoders
    arrow(ax, (3.0, 6.9), left(enc), "visible", label_offset=(-0.55, 0.05))
    arrow(ax, (3.0, 5.2), left(tenc), "all", label_offset=(-0.45, -0.05))
    pairs = [(enc, pred), (pred, head), (head, preds), (tenc, norm), (norm, pool), (pool, targ)]
    for a, b in pairs:
        arrow(ax, right(a), left(b))
    arrow(ax, (preds[0] + preds[2], y_on + 0.9), (loss[0], 6.9), color=LOSS_EDGE)
    arrow(ax, (targ[0] + targ[2], y_t + 2.0), (loss[0], 5.2), color=LOSS_EDGE)

    # EMA: the online encoder's weights flow (slowly) into the target encoder
    arrow(ax, (5.7, y_on), (5.7, y_t + h_t), dashed=True, color=TARGET_EDGE)
    ax.text(
        5.9,
        6.05,
        "EMA, after every optimizer step:\ntarget = m * target + (1 - m) * online\n"
        "(weights only, no gradient)",
        fontsize=8.3,
        color=TARGET_EDGE,
        va="center",
    )

    # legend
    for k, (face, edge, text) in enumerate(
        [
            (ONLINE, ONLINE_EDGE, "online path: trained, gradients flow"),
            (TARGET, TARGET_EDGE, "target path: torch.no_grad(), no trainable parameter"),
        ]
    ):
        ax.add_patch(Rectangle((0.3, 0.95 - 0.55 * k), 0.45, 0.32, facecolor=face, edgecolor=edge))
        ax.text(0.9, 1.11 - 0.55 * k, text, fontsize=8.3, va="center")

    fig.savefig(OUT, dpi=100, metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
