"""``python -m agent`` is the same as the ``edge-ids-agent`` command."""

from agent.cli import main

raise SystemExit(main())
