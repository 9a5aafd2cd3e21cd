#!/usr/bin/env python3
"""Exec-to-ready time of itemsd: how long from starting the process until it tells systemd
READY=1 (src/systemd.rs), which it does once it listens with the pool filled.

Binds a unix datagram socket, starts the binary with NOTIFY_SOCKET pointing at it (the rest of
the environment is passed through: the database settings), and times from just before the
spawn until "READY=1" arrives; then stops it with SIGTERM. Repeats RUNS times and prints
"median min max" in milliseconds. Standard library only.

Usage: ready.py RUNS BINARY
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def once(binary: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=path, APPLICATION_PORT="0")
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
        try:
            while True:
                message = sock.recv(4096)
                if b"READY=1" in message.split(b"\n"):
                    elapsed = time.perf_counter() - start
                    break
        except socket.timeout:
            sys.exit(f"ready.py: {binary} sent no READY=1 within 10 s")
        finally:
            proc.send_signal(signal.SIGTERM)
            if proc.wait(timeout=30) != 0:
                sys.exit(f"ready.py: {binary} exited {proc.returncode}")
            sock.close()
        return elapsed * 1000


def main() -> None:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.exit("usage: ready.py RUNS BINARY")
    runs, binary = int(sys.argv[1]), sys.argv[2]
    times = [once(binary) for _ in range(runs)]
    print(f"{statistics.median(times):.1f} {min(times):.1f} {max(times):.1f}")


if __name__ == "__main__":
    main()
