"""One module per ``edge-ids-trainer`` subcommand (``HELP``, ``add_arguments``, ``run``)."""
