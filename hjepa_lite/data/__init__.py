"""The data sets and how training reads them: ``datasets`` (``build_dataset``, transforms),
``shapes`` (the synthetic Shapes set), ``photo_crops`` and ``photo_objects`` (crops of
scikit-image's photos), ``image_set`` (their shared base), ``dense_labels`` (per-cell truth
for the dense probes) and ``loader`` (the seeded, resumable training loader). Nothing here
imports the model."""
