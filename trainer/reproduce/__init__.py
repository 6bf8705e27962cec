"""``edge-ids-trainer reproduce``: the paper's protocol on CICIoV2024, then honest protocols beside it.

Modules: :mod:`.splits` (the partitions, with the leakage checks that fail loudly),
:mod:`.protocols` (train and evaluate one protocol: float and int8, per-class figures, latency),
:mod:`.windows` (the agent's view: ``can-temporal`` rows over the files' frame order),
:mod:`.transfer` (a CICIoV2024 model replayed through the agent on other cars' logs),
:mod:`.report` (Markdown and pictures), :mod:`.run` (the plan, in order), :mod:`.progress` (ETA).
"""
