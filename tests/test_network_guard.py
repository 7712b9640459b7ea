"""The socket guard of conftest.py: outbound connections are refused, loopback works."""

import socket
import threading

import pytest


def test_the_guard_is_installed():
    assert hasattr(socket.socket.connect, "__wrapped__")
    assert hasattr(socket.socket.connect_ex, "__wrapped__")


@pytest.mark.parametrize("address", [("192.0.2.1", 80), ("example.org", 443),
                                     ("2001:db8::1", 80, 0, 0)])
def test_outbound_connections_are_refused_before_any_packet(address):
    # 192.0.2.1 and 2001:db8::1 are documentation addresses; the guard refuses them (and any
    # name but localhost) before the connect system call, so nothing is sent.
    assert hasattr(socket.socket.connect, "__wrapped__"), "guard missing: not connecting"
    family = socket.AF_INET6 if len(address) == 4 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        with pytest.raises(ConnectionRefusedError, match="only loopback is allowed"):
            s.connect(address)
        with pytest.raises(ConnectionRefusedError, match="only loopback is allowed"):
            s.connect_ex(address)


def test_loopback_connections_still_work():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = threading.Thread(target=lambda: server.accept()[0].close())
    accepted.start()
    with socket.create_connection(("localhost", port), timeout=5):
        pass
    accepted.join(timeout=5)
    server.close()
