"""`python -m bot.rasa_server run ...`: Rasa's own command line, with the action fallback.

Same arguments as `rasa`; it only installs bot.resilience first, so a failing action
server never silences the referral.
"""

from __future__ import annotations

import os
import sys

from bot.resilience import install_remote_action_fallback


def main() -> None:
    install_remote_action_fallback(float(os.environ.get("ACTION_TIMEOUT_SECONDS", "10")))
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
