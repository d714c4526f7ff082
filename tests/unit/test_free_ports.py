"""Ports for the servers a test starts: distinct even when picked together."""

from __future__ import annotations

from tools.local_stack import free_ports, port_is_free


def test_ports_picked_together_are_distinct_and_free() -> None:
    for _ in range(50):  # picked one by one and released, two could coincide (seen in CI)
        ports = free_ports(5)
        assert len(set(ports)) == 5
        assert all(port_is_free(port) for port in ports)
