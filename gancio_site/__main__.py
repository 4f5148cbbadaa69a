"""The ``gancio-site`` command (also ``python -m gancio_site``).

Loading the command line takes a tenth of a second; a Ctrl-C meanwhile ends the command
as one at any later moment does, with "Interrupted." and status 130, not a traceback.
"""

from __future__ import annotations

import sys


def run() -> None:
    try:
        from .cli import main
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        raise SystemExit(130) from None
    main()


if __name__ == "__main__":  # pragma: no cover
    run()
