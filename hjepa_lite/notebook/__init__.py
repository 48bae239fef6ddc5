"""What the notebooks drive and draw: widgets (``widgets``, ``widget_gallery``,
``mask_explorer``, ``mask_gallery``), their computation (``mask_statistics``, ``compare``,
``step_cost``), plots (``live_plot``, ``viz``), ``load_or_train`` (the shipped model or one
trained here) and ``tutorial_mode`` (the fast switch, the only reader of ``HJEPA_FAST``)."""
