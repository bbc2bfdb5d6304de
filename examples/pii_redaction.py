"""Keep PII and secrets out of recorded events with the built-in
``pii_redaction`` component.  Run it with: python examples/pii_redaction.py"""

import asyncio
import json

import nemo_relay
from nemo_relay import plugin, subscribers, tools
from nemo_relay.pii_redaction import BuiltinConfig, ComponentSpec, PiiRedactionConfig


def record(event: nemo_relay.Event) -> None:
    print(event.scope_category if isinstance(event, nemo_relay.ScopeEvent) else "mark", json.dumps(event.data))


def send_email(args: dict[str, str]) -> str:
    return f"sent to {args['to']}"  # the tool sees the real address


async def main() -> None:
    config = PiiRedactionConfig(builtin=[
        BuiltinConfig(action="mask", detector="email"),                 # a****@example.com
        BuiltinConfig(action="redact", detector="credit_card"),         # [REDACTED]
        BuiltinConfig(action="hash", target_paths=["/customer_id"]),    # stable SHA-256
    ])
    subscribers.register("print", record)
    try:
        async with plugin.plugin(plugin.PluginConfig(components=[ComponentSpec(config)])):
            result = await tools.execute("send_email", {
                "to": "alice@example.com", "customer_id": "c-1042",
                "body": "Your card 4111 1111 1111 1111 was charged."}, send_email)
            print("caller got:", result)
    finally:
        subscribers.deregister("print")


asyncio.run(main())
