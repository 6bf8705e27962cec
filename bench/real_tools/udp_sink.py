"""A UDP sink (a syslog collector that keeps nothing).

    python udp_sink.py LISTEN_ADDRESS PORT
"""

import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    s.recv(65535)
