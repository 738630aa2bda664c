"""http.client over the daemon's Unix socket, for the tools that drive it from Python."""

import http.client
import socket


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX socket; the Host header stays "localhost"."""

    def __init__(self, socket_path, timeout=120):
        super().__init__('localhost', timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock
