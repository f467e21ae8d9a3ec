"""The clusterdns benchmark: synthetic zones, dnsperf workloads and the runner."""
