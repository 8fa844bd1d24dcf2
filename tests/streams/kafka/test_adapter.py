"""The metadata request crmkpi's aiokafka clients send never asks to create a topic."""

from __future__ import annotations

import aiokafka.client
from aiokafka.protocol.metadata import MetadataRequest_v4

from streams.kafka.adapter import install_metadata_no_auto_create


def test_installed_metadata_requests_never_ask_for_topic_creation() -> None:
    install_metadata_no_auto_create()
    request = aiokafka.client.MetadataRequest(["crm.leads"])
    assert request.build(MetadataRequest_v4).allow_auto_topic_creation is False
