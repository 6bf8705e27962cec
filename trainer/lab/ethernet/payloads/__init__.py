"""Application payloads the lab puts on the wire, one module per protocol."""
