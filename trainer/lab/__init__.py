"""The traffic lab: labelled Ethernet (Edge-IIoTset classes) and CAN (CICIoV2024 classes) captures.

The public datasets cannot be shipped, so the lab produces real protocol exchanges with per-frame
labels, split into capture sessions that differ in everything a real site or vehicle differs in, so a
model can be trained on some sessions and tested on others.
"""
