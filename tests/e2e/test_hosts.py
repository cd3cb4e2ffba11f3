"""Sockets bind to ``squall.bind.host`` and peers reach them at ``squall.advertise.host``.

Only loopback addresses other than 127.0.0.1 are used, so that a socket left on the default
host would show.
"""

import topologies as T

from squall.testing import complete_topology, read_tuples
from squall.topology.plan import make_plan

HOST = "127.0.0.2"


def test_coordinator_and_workers_bind_and_advertise_the_configured_host():
    conf = {"squall.bind.host": HOST, "squall.advertise.host": HOST}
    res = complete_topology(T.SocketsTopo, workers=2, conf=conf)
    assert sorted(r[0] for r in read_tuples(res, "sink")) == list(range(T.N))
    assert sorted(r[0] for r in read_tuples(res, "where")) == list(range(T.N))
    reports = read_tuples(res, "where", "sockets")
    assert sorted(r[0] for r in reports) == make_plan(T.SocketsTopo.components, 2).component_tasks["where"]
    pids = {pid for *_, pid in read_tuples(res, "sink")}
    assert len(pids) == 2  # the sinks ran in two worker processes
    for _task, listen, established, coordinator_listen in reports:
        assert listen and all(ip == HOST for ip, _port in listen)  # the worker's data socket
        listen_ports = {port for _ip, port in listen}
        assert established
        for lip, lport, rip, _rport in established:
            # inbound: to our data socket on HOST; outbound: to a socket listening on HOST (the
            # kernel picks the source address of an outbound connection, 127.0.0.1 on loopback)
            assert (lip if lport in listen_ports else rip) == HOST
            assert lip.startswith("127.") and rip.startswith("127.")
        # the worker's control connection goes to the coordinator's socket, listening on HOST
        coordinator_ports = {port for ip, port in coordinator_listen if ip == HOST}
        assert {rport for *_, rport in established} & coordinator_ports
