"""Reading frozen features: ``evaluate`` (kNN and ridge probes, RankMe, features of a data
set), ``dense_sources`` and ``dense_probe`` (a probe per cell of every level) and
``fusion_learned`` (what a trained fusion takes from each level)."""
