"""Shared test set-up: one torch thread and fixed seeds for every test."""

import pytest

import vgcourse


@pytest.fixture(autouse=True)
def _reproducible():
    vgcourse.setup(seed=0)


# How `make test` shares the work between its two workers (`pytest -n 2 --dist loadscope
# --no-loadscope-reorder`). Every module stays whole on one worker (its module fixtures build
# things once: the Colab environment, the nbgrader course, the student site), except the browser
# tests, which go page by page: all tests of one page on one worker, which loads and
# screenshots that page once. The slow modules are queued first, so the two workers start on
# the longest work and the many short modules fill in around it (longest processing time first
# packs two workers well). The first two need nothing of the built book, so they run while
# `make test` renders it beside them; the Colab parity run (every chapter executed again) reads
# the book's executed chapters only after its first chapter has run.
SLOWEST_FIRST = ("test_grading.py", "test_assign.py", "test_colab.py", "test_student_site.py",
                 "test_browser.py")


def pytest_collection_modifyitems(items):
    """Queue the modules of SLOWEST_FIRST first, in that order; the rest keep theirs."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown when xdist is off
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadscope``: one work unit per module, and one per page of the browser
    tests. (``--dist loadgroup`` cannot do this under pytest 9: pytest-xdist 3.8 marks a
    group by rewriting a private node id that pytest no longer reads.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from _book import pages
    from xdist.scheduler import LoadScopeScheduling

    names = {str(page) for page in pages()}

    class ModulesAndPages(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module, _, test = nodeid.partition("::")
            if module.endswith("test_browser.py") and test.endswith("]"):
                page = test[test.index("[") + 1:-1]
                if page in names:
                    return f"browser {page}"
            return module

    return ModulesAndPages(config, log)


# --- Socket guard: tests run with outbound network refused, so a hidden download fails loudly.
# Installed when this file is imported, before any test module is collected. Loopback
# (127.0.0.0/8, ::1, "localhost") and Unix sockets stay allowed: the browser tests serve the
# book on 127.0.0.1 and Jupyter kernels talk over loopback. The check runs before the system
# call, so a refused connection never sends a packet.
import ipaddress as _ipaddress  # noqa: E402
import socket as _socket  # noqa: E402


class NetworkAccessError(ConnectionRefusedError):
    """Raised by the test socket guard for any connection that leaves this machine."""


def _is_loopback(address) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths, abstract sockets
        return True
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return _ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a host name other than localhost: resolving it is already leaving
        return False


def _guarded(method):
    def connect(self, address, *args, **kwargs):
        if self.family in (_socket.AF_INET, _socket.AF_INET6) and not _is_loopback(address):
            raise NetworkAccessError(
                f"tests may not open network connections (to {address!r}); only loopback is "
                "allowed. Ship the data with the package or make it locally.")
        return method(self, address, *args, **kwargs)

    connect.__wrapped__ = method
    connect.__name__ = method.__name__
    return connect


if not hasattr(_socket.socket.connect, "__wrapped__"):
    _socket.socket.connect = _guarded(_socket.socket.connect)
    _socket.socket.connect_ex = _guarded(_socket.socket.connect_ex)
