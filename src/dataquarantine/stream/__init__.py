"""Kafka streaming: raw topic -> validate -> valid topic, or DLQ topic plus quarantine store."""
