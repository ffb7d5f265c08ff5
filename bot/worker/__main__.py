"""`python -m bot.worker`: the Procfile's `worker:` process."""
import sys

from bot.worker.main import main

sys.exit(main())
