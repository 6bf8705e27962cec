"""edge-ids trainer: datasets, leakage-safe preprocessing, the hybrid ResNet-1D/BiGRU/attention model,
evaluation, int8 quantization and the model bundle the agent loads.

The trainer reuses :mod:`agent`'s feature code, so training and serving compute identical features.
"""

__version__ = "0.1.0"
