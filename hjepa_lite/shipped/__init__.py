"""The pre-trained weights that ship in ``hjepa_lite/weights/`` (data, not code): ``pretrained``
reads them, ``weights_build`` writes them, ``weights_probe`` measures and tables the probe the
manifest records, ``int8`` (de)quantizes their weight matrices."""
