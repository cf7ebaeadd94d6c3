"""Start-up failures as one line a person can act on, and the ports a process needs free."""

from __future__ import annotations

import socket


class StartupError(RuntimeError):
    """Start-up cannot go on; the message is one line a person can act on."""



def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nobody listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_free_port(host: str, port: int, what: str, setting: str) -> None:
    if not port_is_free(host, port):
        raise StartupError(f"port {host}:{port} for {what} is taken; free it or set {setting}")
