"""A TCP proxy with three modes, to put between the app and PostgreSQL.

- ``forward``: bytes pass both ways.
- ``blackhole``: the proxy keeps every connection open and accepts new ones, but passes
  nothing either way, like a network path that silently drops packets. (The proxy's
  kernel still acknowledges what the client sends, so only a client-side deadline on the
  round trip ends the wait, not ``tcp_user_timeout``: the app's own deadline is what this
  exercises.)
- ``refuse``: the listening socket is closed (connections are refused at once) and open
  connections are reset, like a database server that is down.

Connections held during a blackhole are closed when the mode changes, as a path that
comes back after its peers gave up. Runs in threads of the calling process.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

FORWARD, BLACKHOLE, REFUSE = "forward", "blackhole", "refuse"


class TcpProxy:
    def __init__(self, *, listen_port: int, target_host: str, target_port: int, host: str = "127.0.0.1"):
        self.host, self.listen_port = host, listen_port
        self.target = (target_host, target_port)
        self.mode = FORWARD
        self._lock = threading.Lock()
        self._conns: set[tuple[socket.socket, socket.socket]] = set()
        self._listener: socket.socket | None = None
        self._stopped = False
        self.accepted = 0

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> TcpProxy:
        self._listen()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._close_listener()
        self._reset_all()

    def set_mode(self, mode: str) -> None:
        assert mode in (FORWARD, BLACKHOLE, REFUSE), mode
        with self._lock:
            previous, self.mode = self.mode, mode
        if previous == BLACKHOLE or mode == REFUSE:
            self._reset_all()
        if mode == REFUSE:
            self._close_listener()
        elif self._listener is None:
            self._listen()

    # --- internals ---------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.listen_port))
        listener.listen(512)
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _reset_all(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for pair in conns:
            for sock in pair:
                _reset(sock)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopped and self._listener is listener:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        # A blackhole accepts and holds; it connects upstream only once traffic may flow.
        while self.mode == BLACKHOLE and not self._stopped:
            with self._lock:
                self._conns.add((client, client))
            time.sleep(0.1)
            if client.fileno() == -1:
                return
        with self._lock:
            self._conns.discard((client, client))
        if self.mode != FORWARD:
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        pair = (client, upstream)
        with self._lock:
            self._conns.add(pair)
        try:
            self._pump(client, upstream)
        finally:
            with self._lock:
                self._conns.discard(pair)
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        while not self._stopped:
            if self.mode == BLACKHOLE:
                # Pass nothing; keep the sockets open until the mode changes.
                time.sleep(0.05)
                if client.fileno() == -1 or upstream.fileno() == -1:
                    return
                continue
            if self.mode == REFUSE:
                return
            try:
                readable, _, _ = select.select([client, upstream], [], [], 0.1)
            except (OSError, ValueError):
                return
            for sock in readable:
                if self.mode != FORWARD:
                    break
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a crashed server's host would answer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
