"""A first look at nemo_relay: nested scopes, marks, and the ATOF events a
subscriber receives.  Run it with `python examples/quickstart.py` once the
package is installed (`./dev test` installs it into .venv, so
`.venv/bin/python examples/quickstart.py` works in a checkout)."""

import asyncio
import json

import nemo_relay
from nemo_relay import ScopeType, scope, subscribers


def print_event(event: nemo_relay.Event) -> None:
    print(json.dumps(event.to_dict(), indent=None))


async def answer(question: str) -> str:
    with scope.scope("plan", ScopeType.Function, input={"question": question}):
        scope.event("thinking", data={"step": 1})
        await asyncio.sleep(0)
    return "42"


async def main() -> None:
    subscribers.register("printer", print_event)
    try:
        with scope.scope("agent", ScopeType.Agent, metadata={"session": "demo"}):
            # two concurrent tasks each get their own scope chain
            results = await asyncio.gather(answer("life?"), answer("universe?"))
            scope.event("answers", data=results)
    finally:
        subscribers.deregister("printer")


if __name__ == "__main__":
    asyncio.run(main())
