#!/bin/sh
# A host firewall on the victim that drops every TCP segment except to the background's services, as a
# hardened PLC or an nftables default-drop policy does: scans of it get no answer at all. Held while the
# scenario runs; removed when it is stopped.
nft -f - <<'RULES'
table inet eids_fw {
  chain input { type filter hook input priority 0; policy accept; tcp dport != { 80, 502, 1883 } drop; }
}
RULES
trap 'nft delete table inet eids_fw; exit 0' TERM INT
while :; do sleep 1; done
