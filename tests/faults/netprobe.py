"""Small network probes run on a host of its own (`python netprobe.py COMMAND ...`, under
`ip netns exec`), each printing one JSON line: a TCP sink, a TCP send, a UDP count, a UDP send."""

import json
import socket
import sys
import time


def tcp_sink(port):
    """Accept forever; read each connection to its end, answer how many bytes came."""
    server = socket.create_server(("0.0.0.0", int(port)), reuse_port=True)
    while True:
        connection, _ = server.accept()
        with connection:
            received = 0
            while chunk := connection.recv(65536):
                received += len(chunk)
            connection.sendall(str(received).encode())


def tcp_send(host, port, size, timeout):
    """Connect, send `size` bytes, read the answer: whether it came, and the seconds it took."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, int(port)), timeout=float(timeout)) as connection:
            connection.sendall(b"x" * int(size))
            connection.shutdown(socket.SHUT_WR)
            answer = int(connection.recv(64) or b"-1")
        return {"ok": answer == int(size), "seconds": time.monotonic() - started}
    except OSError as exc:
        return {"ok": False, "error": type(exc).__name__, "seconds": time.monotonic() - started}


def udp_count(port, seconds, expected):
    """How many datagrams arrive within `seconds` (sooner once all `expected` came)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", int(port)))
    sock.settimeout(0.1)
    print(json.dumps({"listening": True}), flush=True)
    deadline, count = time.monotonic() + float(seconds), 0
    while time.monotonic() < deadline and count < int(expected):
        try:
            sock.recv(2048)
            count += 1
        except TimeoutError:
            continue
    return {"received": count}


def udp_send(host, port, count):
    """Send `count` datagrams, 1 ms apart; a send the firewall refuses (EPERM) counts as lost."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    refused = 0
    for n in range(int(count)):
        try:
            sock.sendto(str(n).encode(), (host, int(port)))
        except PermissionError:
            refused += 1
        time.sleep(0.001)
    return {"sent": int(count), "refused": refused}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    commands = {"tcp-sink": tcp_sink, "tcp-send": tcp_send, "udp-count": udp_count, "udp-send": udp_send}
    print(json.dumps(commands[command](*args)))
