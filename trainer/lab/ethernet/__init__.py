"""Labelled Ethernet traffic of an IIoT site: the 15 Edge-IIoTset classes as real protocol exchanges.

Each capture session is a different site: its own subnet, gateway, hosts with their own MAC vendors
and operating systems (TTL, window, TCP options), its own MQTT topics and sensor periods, Modbus
register maps and poll rates, HTTP ports and paths, and its own capture start time. Benign traffic
(MQTT telemetry, Modbus/TCP polling, HTTP dashboards, DNS, NTP, ARP, ICMP, and the everyday LAN
traffic of :mod:`trainer.lab.everyday`) runs through the whole session; every attack is an episode
placed somewhere inside it, built the way the real tool sends it
(hping3 floods with random sources, nmap SYN/connect/UDP/OS-detection probes, masscan, Nikto, sqlmap,
hydra, arpspoof, ...), with the victims' replies. Frames made by an attack episode (including the
victims' replies to it) carry the attack's label, every other frame is ``Normal``.

Why all this variation: a model trained on one address plan learns the addresses. Nothing an attack
is told by here is a lab constant: addresses, ports, MACs, timing and payload mixes are drawn per
session, so that only what the attack *does* is common to all sessions.

The package is laid out by job, each module importing only those below it:

- :mod:`.labels`: the class names; :mod:`.site`: hosts, operating systems and the site plan;
- :mod:`.capture`: the frames of a session, the TCP connection simulator and ICMP errors;
- :mod:`.payloads`: one module per application protocol the lab speaks;
- :mod:`.benign`: the site's own benign traffic (with :mod:`trainer.lab.everyday` and
  :mod:`trainer.lab.plant_floor`);
- :mod:`.attacks`: one module per attack family;
- :mod:`.session`: sessions put together, and written as pcaps, labels and published-schema CSVs
  (:func:`.session.write_sessions`).
"""
