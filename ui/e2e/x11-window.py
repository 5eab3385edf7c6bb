#!/usr/bin/python3
"""What a window manager would do to the app's window, for the tests under a bare Xvfb.

  x11-window.py close TITLE   asks the window to close (WM_DELETE_WINDOW), as a close button does
  x11-window.py state TITLE   prints "shown", "hidden" or "gone"
"""
import sys

from Xlib import X, display, protocol


def windows(d, title):
    """Top-level windows whose name contains `title`."""
    found = []
    stack = [d.screen().root]
    while stack:
        w = stack.pop()
        try:
            name = w.get_wm_name()
            children = w.query_tree().children
        except Exception:
            continue
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        if name and title in name and w.get_wm_protocols() is not None:
            found.append(w)
        stack.extend(children)
    return found


def main():
    command, title = sys.argv[1], sys.argv[2]
    d = display.Display()
    found = [w for w in windows(d, title) if w.get_wm_protocols()]
    if command == "state":
        states = [w.get_attributes().map_state for w in found]
        print("shown" if X.IsViewable in states else "hidden" if states else "gone")
        return 0
    if command == "close":
        delete = d.intern_atom("WM_DELETE_WINDOW")
        protocols = d.intern_atom("WM_PROTOCOLS")
        targets = [w for w in found if delete in w.get_wm_protocols()]
        if not targets:
            print(f"no window titled {title!r} takes WM_DELETE_WINDOW", file=sys.stderr)
            return 1
        for w in targets:
            event = protocol.event.ClientMessage(
                window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
            )
            w.send_event(event)
        d.flush()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
