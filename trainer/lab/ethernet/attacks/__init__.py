"""Attack episodes, one module per family, each built the way the real tool sends it."""
