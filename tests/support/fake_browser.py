"""A stand-in for the user's browser, named in ``BROWSER`` by the command-line sign-in tests.

It returns at once (as a browser does) and, in a detached child, visits the sign-in link and
follows its redirect to the loopback address, trusting ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import requests

if __name__ == "__main__":
    if sys.argv[1:2] == ["--visit"]:
        requests.get(sys.argv[2], verify=os.environ["REQUESTS_CA_BUNDLE"], timeout=30)
    else:
        subprocess.Popen([sys.executable, __file__, "--visit", sys.argv[1]], start_new_session=True)
