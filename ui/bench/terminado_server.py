"""Jupyter's terminal server (terminado) with one shared `sh`, the baseline of the terminal
benchmark. Usage: python terminado_server.py PORT

The shell and the programs it runs are the ones the benchmark's room runs: busybox's `sh`
and applets (the room image is a busybox root filesystem), found first on PATH. The two
servers then differ only in how the terminal reaches the WebSocket client: the same shell
line editing echoes the keystrokes, the same `head` and `tr` write the bulk output."""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import tornado.ioloop
import tornado.web
from terminado import SingleTermManager, TermSocket


def busybox_path() -> str:
    busybox = shutil.which("busybox")
    if busybox is None:
        sys.exit("busybox is needed (apt-get install busybox-static)")
    applets = tempfile.mkdtemp(prefix="terminado-busybox-")
    atexit.register(shutil.rmtree, applets, ignore_errors=True)
    subprocess.run([busybox, "--install", "-s", applets], check=True)
    return applets


def main() -> None:
    port = int(sys.argv[1])
    os.environ["PATH"] = busybox_path() + os.pathsep + os.environ.get("PATH", "")
    manager = SingleTermManager(shell_command=["sh"])
    app = tornado.web.Application(
        [(r"/websocket", TermSocket, {"term_manager": manager})]
    )
    app.listen(port, "127.0.0.1")
    print(f"terminado listening on {port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
