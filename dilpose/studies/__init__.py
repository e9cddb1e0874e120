"""One study per notebook: the experiments behind it, returning plain data the notebook shows.

``common`` holds what they share (train or load a variant, arms of seeds, statistics, tables);
``s01_data`` is notebook 01's, ``s02_model`` notebook 02's, and each later notebook adds its own.
"""
