"""The `kubernetes` plugin: cluster.local answers from Services, EndpointSlices and Namespaces."""
