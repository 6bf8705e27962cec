"""``python -m trainer`` is the same as the ``edge-ids-trainer`` command."""

from trainer.cli import main

raise SystemExit(main())
