"""Kafka plumbing: the embedded broker, topics, the producer, dead letters, and the one
adapter over Faust/aiokafka internals."""
