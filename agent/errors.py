"""One exception hierarchy for the agent.

Every error the agent raises on purpose derives from :class:`EdgeIdsError`, so the command line can
print its message (which says what went wrong, where, and how to fix it) without a traceback, and
library users can catch one type.
"""

from __future__ import annotations


class EdgeIdsError(Exception):
    """Base class of all errors raised on purpose by edge-ids."""


class ConfigError(EdgeIdsError):
    """A configuration file or override is invalid; the message names the file and key path."""


class BackendError(EdgeIdsError):
    """A backend name is unknown, or its optional dependency is not installed."""


class CaptureError(EdgeIdsError):
    """A capture file or live source cannot be read; the message names the file and frame/line."""


class FeatureError(EdgeIdsError):
    """A feature kind is unknown or rows cannot be built."""


class BundleError(EdgeIdsError):
    """A model bundle is missing, tampered with, or incompatible with this agent."""


class ScoringError(EdgeIdsError):
    """The LiteRT interpreter cannot be loaded or run."""


class DeliveryError(EdgeIdsError):
    """Alerts cannot be delivered (bad credentials, TLS files, unwritable outbox)."""
