"""The clusterdns benchmark: synthetic zones, dnsperf workloads and the runner (DESIGN §3–§4)."""
