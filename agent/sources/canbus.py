"""Live CAN frames from any bus python-can supports (socketcan, pcan, kvaser, slcan, gs_usb, ...).

Why python-can's own keys: ``source.can`` is passed to ``can.Bus(**source.can)`` unchanged
(``interface``, ``channel``, ``bitrate``, ``fd``, ``data_bitrate``, ``can_filters``, ...), so an
integrator copies the settings that already work for their adapter from python-can's documentation,
and every interface python-can gains works here without code.

Why reconnect instead of failing: on a vehicle a bus error, a bus-off or an unplugged USB adapter is
an event, not a reason for the IDS to stop. Opening the bus and every ``recv`` are guarded; on
:class:`can.CanError` or :class:`OSError` the bus is shut down and reopened after an exponential
back-off from ``reconnect_min_s`` up to ``reconnect_max_s`` (reset by the next frame received).
An error frame that reports bus-off (SocketCAN error class ``CAN_ERR_BUSOFF``) is passed on and then
also triggers a reopen, which re-initialises adapters that stay bus-off until reset. A
configuration error (an interface python-can does not know) is raised at once: retrying cannot fix
a typo.

Error frames and remote frames are yielded as :class:`~agent.records.CanFrame` with ``is_error`` /
``is_remote`` set; the feature extractors decide what to do with them.

Stopping: ``recv`` is called with a short timeout (``recv_timeout_s``), so :meth:`CanBusSource.stop`
(from any thread) or :meth:`close` ends the iteration within that time, and back-off sleeps wait on
the same event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from agent.errors import BackendError, CaptureError
from agent.records import CanFrame

if TYPE_CHECKING:
    import can

    from agent.config import SourceConfig

log = logging.getLogger(__name__)

#: SocketCAN error class bit for "bus off" (linux/can/error.h)
CAN_ERR_BUSOFF = 0x00000040

_new_frame: Callable[[type, tuple[Any, ...]], CanFrame] = tuple.__new__


class CanBusSource:
    """Iterate CAN frames from a live python-can bus, reconnecting on bus errors.

    :param bus_kwargs: keyword arguments for ``can.Bus`` (python-can's own keys).
    :param reconnect_min_s: first back-off after an error.
    :param reconnect_max_s: longest back-off.
    :param recv_timeout_s: ``recv`` timeout, which bounds how long :meth:`stop` takes.
    :param bus_factory: builds the bus (default ``can.Bus(**bus_kwargs)``); tests inject failing buses.
    """

    def __init__(
        self,
        bus_kwargs: Mapping[str, Any],
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        recv_timeout_s: float = 0.2,
        bus_factory: Callable[[], can.BusABC] | None = None,
    ) -> None:
        if reconnect_min_s <= 0 or reconnect_max_s < reconnect_min_s:
            raise CaptureError(
                f"source.reconnect_min_s ({reconnect_min_s}) must be > 0 and <= reconnect_max_s ({reconnect_max_s})"
            )
        self.bus_kwargs = dict(bus_kwargs)
        if bus_factory is None and "interface" not in self.bus_kwargs and "bustype" not in self.bus_kwargs:
            raise CaptureError(
                "source.can.interface is not set; give python-can's interface name "
                "(socketcan, pcan, kvaser, slcan, gs_usb, virtual, udp_multicast, ...)"
            )
        self.reconnect_min_s = float(reconnect_min_s)
        self.reconnect_max_s = float(reconnect_max_s)
        self.recv_timeout_s = float(recv_timeout_s)
        self._factory = bus_factory or self._default_factory
        self._stop = threading.Event()
        self._bus: can.BusABC | None = None
        self._iterating = False
        self._channel = None if self.bus_kwargs.get("channel") is None else str(self.bus_kwargs["channel"])
        self._counters = {
            "frames": 0,
            "data_frames": 0,
            "remote_frames": 0,
            "error_frames": 0,
            "fd_frames": 0,
            "bus_errors": 0,
            "bus_off": 0,
            "open_failures": 0,
            "reconnects": 0,
        }

    @classmethod
    def from_config(cls, config: SourceConfig) -> CanBusSource:
        """Build from the ``source`` section (``can``, ``reconnect_min_s``, ``reconnect_max_s``)."""
        return cls(config.can, reconnect_min_s=config.reconnect_min_s, reconnect_max_s=config.reconnect_max_s)

    def _default_factory(self) -> can.BusABC:
        try:
            import can
        except ImportError as exc:  # pragma: no cover - python-can is a runtime dependency
            raise BackendError("the canbus source needs python-can (pip install python-can)") from exc
        return can.Bus(**self.bus_kwargs)

    # ------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """frames (by kind), bus_errors, bus_off, open_failures, reconnects."""
        return dict(self._counters)

    @property
    def connected(self) -> bool:
        """Whether the bus is open now (an iteration opens it, and reopens it after an error)."""
        return self._bus is not None

    def stop(self) -> None:
        """Ask a running iteration to end (thread-safe; takes at most ``recv_timeout_s``)."""
        self._stop.set()

    def close(self) -> None:
        """Stop and release the bus (if no iteration holds it; otherwise the iteration releases it)."""
        self._stop.set()
        if not self._iterating:
            self._shutdown()

    def _shutdown(self) -> None:
        bus, self._bus = self._bus, None
        if bus is None:
            return
        try:
            bus.shutdown()
        except (OSError, ValueError, RuntimeError) as exc:
            log.warning("CAN bus %s: shutdown failed: %s", self._channel, exc)
        except Exception as exc:  # noqa: BLE001 - adapters raise their own types; shutting down must not crash
            log.warning("CAN bus %s: shutdown failed: %s: %s", self._channel, type(exc).__name__, exc)

    def _open(self, delay: float) -> tuple[can.BusABC | None, float]:
        """Open the bus, or count the failure and wait ``delay``; returns (bus or None, next delay)."""
        import can

        try:
            bus = self._factory()
        except can.CanInterfaceNotImplementedError as exc:
            raise BackendError(
                f"source.can: python-can cannot use interface {self.bus_kwargs.get('interface')!r}: {exc}"
            ) from exc
        except (can.CanError, OSError) as exc:
            self._counters["open_failures"] += 1
            log.warning("CAN bus %s: cannot open (%s); retrying in %.1f s", self._channel, exc, delay)
            self._stop.wait(delay)
            return None, min(delay * 2, self.reconnect_max_s)
        return bus, delay

    def __iter__(self) -> Iterator[CanFrame]:
        import can

        self._iterating = True
        counters = self._counters
        new = _new_frame
        cls = CanFrame
        default_channel = self._channel
        timeout = self.recv_timeout_s
        stop = self._stop
        delay = self.reconnect_min_s
        opened_once = self._bus is not None
        try:
            while not stop.is_set():
                if self._bus is None:
                    bus, delay = self._open(delay)
                    if bus is None:
                        continue
                    self._bus = bus
                    if opened_once:
                        counters["reconnects"] += 1
                        log.info("CAN bus %s: reconnected", default_channel)
                    opened_once = True
                bus = self._bus
                try:
                    msg = bus.recv(timeout)
                except (can.CanError, OSError) as exc:
                    counters["bus_errors"] += 1
                    log.warning(
                        "CAN bus %s: %s: %s; reopening in %.1f s", default_channel, type(exc).__name__, exc, delay
                    )
                    self._shutdown()
                    stop.wait(delay)
                    delay = min(delay * 2, self.reconnect_max_s)
                    continue
                if msg is None:
                    continue
                delay = self.reconnect_min_s
                channel = msg.channel
                is_error = msg.is_error_frame
                frame = new(
                    cls,
                    (
                        msg.timestamp or time.time(),
                        msg.arbitration_id,
                        bytes(msg.data),
                        msg.dlc,
                        msg.is_extended_id,
                        msg.is_fd,
                        msg.is_remote_frame,
                        is_error,
                        default_channel if channel is None else str(channel),
                    ),
                )
                counters["frames"] += 1
                if is_error:
                    counters["error_frames"] += 1
                elif msg.is_remote_frame:
                    counters["remote_frames"] += 1
                else:
                    counters["data_frames"] += 1
                if msg.is_fd:
                    counters["fd_frames"] += 1
                yield frame
                if is_error and msg.arbitration_id & CAN_ERR_BUSOFF:
                    counters["bus_off"] += 1
                    log.warning("CAN bus %s: bus-off reported; reopening the bus", default_channel)
                    self._shutdown()
                    stop.wait(delay)
                    delay = min(delay * 2, self.reconnect_max_s)
        finally:
            self._iterating = False
            self._shutdown()
