"""Helpers the tests share: lab captures, rule checks, sites learned and replayed for the baseline
detectors, a Mosquitto broker, a live agent in a veth pair, the systemd sandbox, trainer data sets,
HCRL-style CAN logs, polling with a deadline; and ``mqtt_sink_proc.py``, a program the MQTT delivery
tests run in a process of its own."""
