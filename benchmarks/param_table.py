"""Exact parameter counts of the seed's ViT-Base example beside the seed's formula.

    python benchmarks/param_table.py

The seed (ViT-Base, 3 levels, fpn_feature_dim=512) claims: no FPN ~86M, FPN add ~87M (+1.2 %),
FPN concat ~88M (+2.3 %), and estimates what FPN adds with a formula that counts L top-down
layers (there are L - 1) and ignores biases and LayerNorms.
"""

from hjepa_lite import create_hjepa, parameter_breakdown, seed_fpn_formula

SEED = dict(encoder_type="vit_base_patch16_224", img_size=224, embed_dim=768, num_hierarchies=3)
FEATURE_DIM = 512


def main() -> None:
    rows = {
        "pooling-only": create_hjepa(**SEED),
        "FPN add": create_hjepa(**SEED, use_fpn=True, fpn_feature_dim=FEATURE_DIM),
        "FPN concat": create_hjepa(
            **SEED, use_fpn=True, fpn_feature_dim=FEATURE_DIM, fpn_fusion_method="concat"
        ),
    }
    counts = {name: parameter_breakdown(model) for name, model in rows.items()}
    base = counts["pooling-only"]
    print(
        "| variant | encoder | trainable (encoder + predictor + hierarchy) | vs pooling-only "
        "| FPN adds (lateral+top-down+fuse) | seed formula | encoder + hierarchy | vs |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, c in counts.items():
        fusion = "concat" if "concat" in name else "add"
        formula = seed_fpn_formula(3, 768, FEATURE_DIM, fusion) if c["fpn"] else 0
        enc_hier = c["context_encoder"] + c["fpn"] + c["project"]
        base_enc_hier = base["context_encoder"] + base["fpn"] + base["project"]
        print(
            f"| {name} | {c['context_encoder']:,} | {c['trainable']:,} "
            f"| {100 * (c['trainable'] / base['trainable'] - 1):+.2f} % | {c['fpn']:,} "
            f"| {formula:,} | {enc_hier:,} | {100 * (enc_hier / base_enc_hier - 1):+.2f} % |"
        )


if __name__ == "__main__":
    main()
