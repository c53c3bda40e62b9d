# SPDX-License-Identifier: MIT
"""Echo semantics through the real daemon: stream, seqpacket, datagram, TCP."""

import os
import signal
import socket
import threading
import time

from conftest import connect, dgram_client, recv_exact, recv_until_eof, wait_until


def test_stream_echoes_binary_exactly(ipcd):
    d = ipcd().start_ready()
    data = bytes(range(256)) * 64 + b"\0\0\0" + os.urandom(100000)
    assert d.exchange(data) == data
    assert d.stop() == 0


def test_stream_large_transfer_with_concurrent_reader(ipcd):
    d = ipcd().start_ready()
    data = os.urandom(8 << 20)  # far more than buffer_size and the socket buffers
    with connect(d.sock) as c:
        received = []
        reader = threading.Thread(target=lambda: received.append(recv_until_eof(c, 30)))
        reader.start()
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        reader.join(35)
    assert received and received[0] == data
    assert d.stop() == 0


def test_half_close_flushes_then_closes(ipcd):
    d = ipcd("log = { connections = true; };\n").start_ready()
    with connect(d.sock) as c:
        c.sendall(b"first part, ")
        assert recv_exact(c, 12) == b"first part, "
        c.sendall(b"then EOF")
        c.shutdown(socket.SHUT_WR)
        # Everything sent before the EOF comes back, then the daemon closes its side.
        assert recv_until_eof(c) == b"then EOF"
    d.wait_log(r"closed \(eof\)")
    assert d.stop() == 0


def test_many_concurrent_connections_all_echo(ipcd):
    d = ipcd("workers = 2;\n").start_ready()
    conns = [connect(d.sock) for _ in range(200)]
    try:
        for i, c in enumerate(conns):
            c.sendall(b"conn %d;" % i)
        for i, c in enumerate(conns):
            want = b"conn %d;" % i
            assert recv_exact(c, len(want)) == want
    finally:
        for c in conns:
            c.close()
    # The work is spread: one thread per worker besides the main one.
    assert len(os.listdir(f"/proc/{d.pid}/task")) == 3
    assert d.stop() == 0


def test_seqpacket_keeps_message_boundaries(ipcd):
    d = ipcd(kind="seqpacket").start_ready()
    with connect(d.sock, "seqpacket") as c:
        messages = [b"a", b"bb" * 1000, b"\0" * 5, os.urandom(60000)]
        for m in messages:
            c.send(m)
        for m in messages:
            assert c.recv(1 << 17) == m
    assert d.stop() == 0


def test_datagram_echoes_to_each_sender(ipcd, workdir):
    d = ipcd(kind="dgram").start_ready()
    clients = [dgram_client(workdir, f"c{i}.sock") for i in range(3)]
    for i, c in enumerate(clients):
        c.sendto(b"from %d" % i, d.sock)
    for i, c in enumerate(clients):
        data, addr = c.recvfrom(100)
        assert data == b"from %d" % i
        assert addr == d.sock
        c.close()
    assert d.stop() == 0


def test_datagram_from_unbound_sender_is_counted_not_fatal(ipcd, workdir):
    d = ipcd("log = { stats_interval = 1; };\n", kind="dgram").start_ready()
    anon = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    anon.sendto(b"nobody to answer", d.sock)
    anon.close()
    assert d.exchange(b"still serving") == b"still serving"
    d.wait_log(r"Stats: .*1 unanswerable", timeout=5)
    assert d.stop() == 0


def _queued_while_stopped(d, send):
    """Runs send() while ipcd is stopped, so what it sends is read back as one batch."""
    d.signal(signal.SIGSTOP)
    try:
        send()
    finally:
        d.signal(signal.SIGCONT)


def test_datagram_batch_sorts_every_kind(ipcd, workdir):
    # unix datagram queues hold about 10 (net.unix.max_dgram_qlen): 9 arrive together.
    d = ipcd("limits = { max_message_size = 100; };\nlog = { stats_interval = 1; };\n",
             kind="dgram").start_ready()
    a, b = dgram_client(workdir, "a.sock"), dgram_client(workdir, "b.sock")
    anon = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sent_a, sent_b = [b"a1", b"", b"a3" * 50], [os.urandom(100), b"b2"]

    def send():
        a.sendto(sent_a[0], d.sock)
        anon.sendto(b"nobody to answer", d.sock)
        b.sendto(sent_b[0], d.sock)
        a.sendto(b"o" * 101, d.sock)
        a.sendto(sent_a[1], d.sock)
        b.sendto(b"p" * 4000, d.sock)
        anon.sendto(b"still nobody", d.sock)
        b.sendto(sent_b[1], d.sock)
        a.sendto(sent_a[2], d.sock)

    _queued_while_stopped(d, send)
    # Each sender gets exactly its own datagrams that fit, in order, and nothing else.
    assert [a.recv(4096) for _ in sent_a] == sent_a
    assert [b.recv(4096) for _ in sent_b] == sent_b
    a.settimeout(0.3)
    b.settimeout(0.3)
    for c in (a, b):
        try:
            extra = c.recv(4096)
        except socket.timeout:
            extra = None
        assert extra is None
    d.wait_log(r"Stats: .* datagrams \(2 unanswerable, 0 dropped, 2 oversize, 0 to peers not reading\)")
    for c in (a, b, anon):
        c.close()
    assert d.stop() == 0


def test_datagram_sender_with_a_full_queue_loses_only_its_own(ipcd, workdir):
    d = ipcd("log = { stats_interval = 1; };\n", kind="dgram").start_ready()
    full, other = dgram_client(workdir, "full.sock"), dgram_client(workdir, "other.sock")
    full.setblocking(False)
    # full never reads: echoes pile up in its queue until ipcd's sends to it fail.
    for i in range(30):
        try:
            full.sendto(b"fill %d" % i, d.sock)
        except BlockingIOError:
            time.sleep(0.01)  # ipcd's own queue is full for a moment: that one is not sent
    d.wait_log(r"Stats: .*datagrams \(0 unanswerable, [1-9]\d* dropped")  # full is full

    def send():
        for i in range(4):
            try:
                full.sendto(b"lost %d" % i, d.sock)
            except BlockingIOError:
                pass
            other.sendto(b"kept %d" % i, d.sock)

    _queued_while_stopped(d, send)
    # In one batch, the sends to full fail between those to other: other gets all four.
    assert [other.recv(100) for _ in range(4)] == [b"kept %d" % i for i in range(4)]
    full.close()
    other.close()
    assert d.stop() == 0


def test_tcp_listener_from_systemd_is_served(ipcd, workdir):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    d = ipcd(listen=f"127.0.0.1:{port}")
    d.start()
    wait_until(lambda: _tcp_connectable(port), 5, "the TCP listener")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"over tcp")
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c) == b"over tcp"
    d.wait_log(r"AF_INET stream")
    assert d.stop() == 0


def _tcp_connectable(port):
    # systemd-socket-activate binds before we can see it; a refused connect means not yet.
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_garbage_and_nuls_in_chunks_of_every_size(ipcd):
    d = ipcd("limits = { buffer_size = 512; max_message_size = 512; };\n").start_ready()
    with connect(d.sock) as c:
        for size in (1, 2, 511, 512, 513, 4096, 65537):
            data = os.urandom(size)
            c.sendall(data)
            assert recv_exact(c, size) == data
    assert d.stop() == 0


def test_datagrams_keep_exit_on_idle_away(ipcd, workdir):
    d = ipcd("exit_on_idle = 1;\n", kind="dgram").start_ready()
    c = dgram_client(workdir, timeout=2)
    for _ in range(8):  # 2.4 s of traffic, well past exit_on_idle
        c.sendto(b"tick", d.sock)
        assert c.recv(10) == b"tick"
        time.sleep(0.3)
    assert d.proc.poll() is None
    c.close()
    assert d.wait_exit(timeout=5) == 0  # idle now: it goes
    assert "exit_on_idle" in d.log()
