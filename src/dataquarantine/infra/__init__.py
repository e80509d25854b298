"""Infrastructure shared by the pipelines: retries, Kafka clients, Prometheus registries, and a
read-ahead thread (prefetch).

It imports only ``errors``, ``masking`` and ``kernel`` from this package, plus the client
libraries it wraps (confluent-kafka, prometheus-client), each from its own module so that
importing one does not load the others.
"""
