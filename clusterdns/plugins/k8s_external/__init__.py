"""The `k8s_external` plugin: Services' external and load-balancer addresses under other zones."""
