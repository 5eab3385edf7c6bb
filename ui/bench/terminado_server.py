"""Jupyter's terminal server (terminado) with one shared `sh`, the baseline of the terminal
benchmark. Usage: python terminado_server.py PORT"""
import sys

import tornado.ioloop
import tornado.web
from terminado import SingleTermManager, TermSocket


def main() -> None:
    port = int(sys.argv[1])
    manager = SingleTermManager(shell_command=["sh"])
    app = tornado.web.Application(
        [(r"/websocket", TermSocket, {"term_manager": manager})]
    )
    app.listen(port, "127.0.0.1")
    print(f"terminado listening on {port}", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
