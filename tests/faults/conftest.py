"""The Procfile's processes for a fault test: `stack` starts nothing until the test calls `stack.up()`, and
kills everything at the end. A test module overrides `stack_env` for settings of its own."""
import pytest

from tests.faults.stack import Stack


@pytest.fixture
def stack_env() -> dict:
    return {}


@pytest.fixture
def stack(app, settings, twilio, llm, redis_server, stack_env):
    stack = Stack(settings, twilio, llm, redis_server.url, **stack_env)
    yield stack
    stack.close()
