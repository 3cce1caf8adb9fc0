"""The pure domain core: profiles, segments and predictions over plain data (NumPy/pandas)."""
