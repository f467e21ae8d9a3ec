"""DNS names, record values and the wire codec."""
