"""Helpers the tests share: lab captures, rule checks, a Mosquitto broker, a live agent in a veth pair,
the systemd sandbox, trainer data sets, HCRL-style CAN logs; and ``mqtt_sink_proc.py``, a program
the MQTT delivery tests run in a process of its own."""
