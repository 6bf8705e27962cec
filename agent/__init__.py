"""edge-ids agent: capture, feature extraction, int8 LiteRT scoring and alert delivery.

The agent runs on gateways with numpy and a LiteRT interpreter only; it never imports TensorFlow
and never imports :mod:`trainer`.
"""

__version__ = "0.1.0"
