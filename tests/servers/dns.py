"""A real DNS server on loopback (dnsmasq) serving SRV records, and one that never answers.

A pytest plugin (``pytest_plugins = ["servers.dns"]`` in ``tests/conftest.py``).

Fixtures
--------
``dns_server``     session scope: a :class:`DnsServer`, dnsmasq on 127.0.0.1 and a
                   free port, authoritative for ``DOMAIN`` (a name it does not
                   know gets NXDOMAIN), with ``_s1-analytics._tcp.<DOMAIN>``
                   pointing at the private MariaDB. Starts in about 0.1 s.
``silent_dns``     a UDP socket on 127.0.0.1 that receives queries and never
                   replies: a DNS server that does not answer. Its ``address``.

dnsmasq comes from Debian's ``dnsmasq-base`` (.ci/setup-test-env installs it).
When it is missing or does not answer, the fixture fails, never skips.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Iterator

import pytest

from servers.mariadb import free_port

DOMAIN = "ru-test.wmnet"


@dataclass
class DnsServer:
    address: str  # host:port, as REPORTUPDATER_DNS_SERVERS takes it
    process: subprocess.Popen


@pytest.fixture(scope="session")
def dns_server(private_mariadb) -> Iterator[DnsServer]:
    program = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not shutil.which(program):
        pytest.fail("dnsmasq is not installed; `make test` installs dnsmasq-base")
    port = free_port(socket.SOCK_DGRAM)
    process = subprocess.Popen(
        [program, "--no-daemon", "--conf-file=/dev/null", "--pid-file=", f"--port={port}",
         "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
         f"--local=/{DOMAIN}/",
         f"--srv-host=_s1-analytics._tcp.{DOMAIN},127.0.0.1,{private_mariadb.port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = DnsServer(f"127.0.0.1:{port}", process)
    _wait_until_it_answers(server, port)
    yield server
    process.terminate()
    process.wait(timeout=10)


def _wait_until_it_answers(server: DnsServer, port: int) -> None:
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], port, 1.0
    deadline = time.monotonic() + 20
    while True:
        try:
            resolver.resolve(f"_s1-analytics._tcp.{DOMAIN}", "SRV")
            return
        except Exception as e:  # noqa: BLE001 - not up yet
            if server.process.poll() is not None or time.monotonic() > deadline:
                server.process.kill()
                output = server.process.communicate()[0]
                pytest.fail(f"dnsmasq on port {port} does not answer ({e}): {output[-2000:]}")
            time.sleep(0.05)


@pytest.fixture
def silent_dns() -> Iterator[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{s.getsockname()[1]}"
