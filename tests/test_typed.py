"""nemo_relay.typed: typed tool and LLM calls; codecs built from annotations
for dataclasses, pydantic models, TypedDicts, enums and plain types; errors
that name the field and the type; middleware and events see JSON."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import os
import pickle
import subprocess
import sys
from typing import Any, Literal, NotRequired, Optional, TypedDict

import pydantic
import pytest

from nemo_relay import LLMRequest, guardrails, intercepts, typed
from nemo_relay.typed import (
    BestEffortAnyCodec,
    ConversionError,
    DataclassCodec,
    JsonPassthrough,
    PydanticCodec,
    codec_for,
)


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@dataclasses.dataclass
class Location:
    city: str
    country: str | None = None


@dataclasses.dataclass
class WeatherArgs:
    location: Location
    unit: Unit = Unit.C
    days: int = 1


@dataclasses.dataclass
class Reading:
    day: int
    temperature: float
    note: Optional[str]


@dataclasses.dataclass
class Forecast:
    location: Location
    unit: Unit
    readings: list[Reading]
    by_name: dict[str, Reading] = dataclasses.field(default_factory=dict)


class Order(TypedDict):
    sku: str
    quantity: int
    gift: NotRequired[bool]


class Item(pydantic.BaseModel):
    name: str
    price: float


class Cart(pydantic.BaseModel):
    owner: str
    items: list[Item]


async def forecast(args: WeatherArgs) -> Forecast:
    readings = [Reading(day=d, temperature=18.5 + d, note=None if d else "today") for d in range(args.days)]
    return Forecast(args.location, args.unit, readings, {"first": readings[0]})


# ---- typed tool calls ------------------------------------------------------------------


async def test_dataclasses_in_and_out_while_middleware_and_events_see_json(events, registered):
    seen = []

    def widen(name, args):
        seen.append(args)
        return {**args, "days": 2}

    registered(intercepts, "tool_request", "widen", 0, False, widen)
    registered(guardrails, "tool_sanitize_response", "look", 0, lambda name, result: (seen.append(result), result)[1])
    result = await typed.tool_execute("weather", WeatherArgs(Location("Paris")), forecast,
                                      DataclassCodec(WeatherArgs), DataclassCodec(Forecast))
    assert result == Forecast(Location("Paris"), Unit.C,
                              [Reading(0, 18.5, "today"), Reading(1, 19.5, None)], {"first": Reading(0, 18.5, "today")})
    # the request intercept got JSON (the optional None field left out, the enum as its value)
    assert seen[0] == {"location": {"city": "Paris"}, "unit": "celsius", "days": 1}
    # so did the sanitizer, and the events record the same JSON
    assert seen[1]["readings"][1] == {"day": 1, "temperature": 19.5}
    assert events.one("weather", "start").data == {"location": {"city": "Paris"}, "unit": "celsius", "days": 2}
    assert events.one("weather", "end").data == seen[1]


async def test_codecs_are_inferred_from_the_functions_annotations():
    result = await typed.tool_execute("weather", WeatherArgs(Location("Oslo", "NO"), Unit.F), forecast)
    assert isinstance(result, Forecast) and result.unit is Unit.F and result.location.country == "NO"


async def test_execution_intercepts_see_json_and_may_change_it(registered):
    async def tweak(name, args, next_):
        assert args == {"sku": "a-1", "quantity": 2}
        result = await next_({**args, "gift": True})
        return {**result, "quantity": result["quantity"] * 10}

    registered(intercepts, "tool_execution", "tweak", 0, tweak)

    def place(order: Order) -> Order:
        assert order == {"sku": "a-1", "quantity": 2, "gift": True}
        return order

    assert await typed.tool_execute("order", Order(sku="a-1", quantity=2), place) == {
        "sku": "a-1", "quantity": 20, "gift": True}


async def test_pydantic_models_in_and_out(events):
    def total(cart: Cart) -> Item:
        return Item(name=cart.owner, price=sum(i.price for i in cart.items))

    cart = Cart(owner="ann", items=[Item(name="tea", price=3), Item(name="cup", price=7.5)])
    result = await typed.tool_execute("total", cart, total, PydanticCodec(Cart), PydanticCodec(Item))
    assert result == Item(name="ann", price=10.5)
    assert events.one("total", "start").data == {"owner": "ann", "items": [{"name": "tea", "price": 3.0},
                                                                            {"name": "cup", "price": 7.5}]}


async def test_plain_types_and_sync_functions():
    def count(words: list[str]) -> dict[str, int]:
        return {w: len(w) for w in words}

    assert await typed.tool_execute("count", ["ab", "cde"], count) == {"ab": 2, "cde": 3}

    def half(n: int) -> float:
        return n / 2

    assert await typed.tool_execute("half", 3, half) == 1.5


async def test_json_passthrough_and_custom_codecs():
    class Celsius(typed.Codec[float]):
        def to_json(self, value: float) -> Any:
            return {"c": value}

        def from_json(self, data: Any) -> float:
            return float(data["c"])

    result = await typed.tool_execute("conv", 20.0, lambda c: c * 9 / 5 + 32, Celsius(), JsonPassthrough())
    assert result == 68.0


async def test_a_function_without_annotations_needs_codecs():
    with pytest.raises(TypeError, match="pass a args codec, or annotate its first parameter"):
        await typed.tool_execute("t", {"a": 1}, lambda a: a)


# ---- conversion errors ------------------------------------------------------------------


async def test_args_changed_to_the_wrong_type_name_the_field(events, registered):
    registered(intercepts, "tool_request", "break", 0, False, lambda n, a: {**a, "days": "three"})
    with pytest.raises(ConversionError) as info:
        await typed.tool_execute("weather", WeatherArgs(Location("Rome")), forecast)
    err = info.value
    assert str(err) == "tool 'weather' args days: expected int, got str 'three'"
    assert (err.path, err.expected, err.value, err.context) == ("days", "int", "three", "tool 'weather' args")
    assert isinstance(err, ValueError)
    assert events.one("weather", "end").metadata["otel.status_code"] == "ERROR"


async def test_a_wrong_result_type_is_reported_as_the_result():
    async def wrong(args: WeatherArgs) -> Forecast:
        return {"not": "a forecast"}  # type: ignore[return-value]

    with pytest.raises(ConversionError, match=r"^tool 'weather' result: expected Forecast, got dict"):
        await typed.tool_execute("weather", WeatherArgs(Location("Rome")), wrong)


@pytest.mark.parametrize(("data", "message"), [
    ({"location": {"city": "Rome"}, "unit": "celsius", "readings": [{"day": 0, "temperature": "hot"}]},
     "readings[0].temperature: expected float, got str 'hot'"),
    ({"location": {}, "unit": "celsius", "readings": []},
     "location.city: expected str, got NoneType None (required field of Location is missing)"),
    ({"location": {"city": "Rome"}, "unit": "kelvin", "readings": []},
     "unit: expected Unit, got str 'kelvin' (one of 'celsius', 'fahrenheit')"),
    ({"location": {"city": "Rome", "zip": 1}, "unit": "celsius", "readings": []},
     "location.zip: expected no such field in Location, got int 1"),
    ({"location": {"city": "Rome"}, "unit": "celsius", "readings": [], "by_name": {"x": {"day": True}}},
     "by_name.x.day: expected int, got bool True"),
    ({"location": "Rome", "unit": "celsius", "readings": []},
     "location: expected Location, got str 'Rome'"),
])
def test_decoding_errors_name_the_nested_field_and_type(data, message):
    with pytest.raises(ConversionError) as info:
        DataclassCodec(Forecast).from_json(data)
    assert str(info.value) == message


def test_typeddict_keys_are_checked():
    codec = codec_for(Order)
    assert codec.from_json({"sku": "x", "quantity": 1}) == {"sku": "x", "quantity": 1}
    with pytest.raises(ConversionError, match=r"^quantity: expected int, got NoneType None \(required key of Order"):
        codec.from_json({"sku": "x"})
    with pytest.raises(ConversionError, match="^gift: expected bool, got str 'yes'$"):
        codec.from_json({"sku": "x", "quantity": 1, "gift": "yes"})
    with pytest.raises(ConversionError, match="^colour: expected no such key in Order"):
        codec.to_json({"sku": "x", "quantity": 1, "colour": "red"})


def test_pydantic_errors_name_the_field():
    with pytest.raises(ConversionError) as info:
        PydanticCodec(Cart).from_json({"owner": "ann", "items": [{"name": "tea", "price": "free"}]})
    assert info.value.path == "items.0.price"
    assert str(info.value).startswith("items.0.price: expected Cart, got dict")
    assert isinstance(info.value.__cause__, pydantic.ValidationError)


def test_optional_fields_round_trip_and_may_be_absent():
    codec = DataclassCodec(Reading)
    assert codec.to_json(Reading(1, 2.0, None)) == {"day": 1, "temperature": 2.0}
    assert codec.from_json({"day": 1, "temperature": 2}) == Reading(1, 2.0, None)
    assert codec.from_json({"day": 1, "temperature": 2, "note": "x"}).note == "x"


def test_plain_types_unions_literals_and_tuples():
    assert codec_for(int | None).from_json(None) is None
    assert codec_for(int | str).from_json("a") == "a"
    assert codec_for(Literal["a", "b"]).from_json("b") == "b"
    with pytest.raises(ConversionError, match=r"^value: expected Literal\['a', 'b'\], got str 'c'$"):
        codec_for(Literal["a", "b"]).from_json("c")
    assert codec_for(tuple[int, str]).from_json([1, "x"]) == (1, "x")
    assert codec_for(tuple[int, str]).to_json((1, "x")) == [1, "x"]
    with pytest.raises(ConversionError, match=r"expected int \| str, got list"):
        codec_for(int | str).from_json([1])
    with pytest.raises(ConversionError, match=r"^\[1\]: expected int, got str 'x'$"):
        codec_for(list[int]).to_json([1, "x"])
    assert codec_for(Any).from_json({"anything": [1]}) == {"anything": [1]}
    with pytest.raises(ConversionError, match="expected a JSON value, got object"):
        codec_for(Any).to_json(object())


def test_unsupported_annotations_fail_when_the_codec_is_made():
    with pytest.raises(TypeError, match=r"no codec for set\[int\]"):
        codec_for(set[int])
    with pytest.raises(TypeError, match=r"use dict\[str, \.\.\.\]"):
        codec_for(dict[int, str])

    @dataclasses.dataclass
    class Event:
        when: dt.datetime

    with pytest.raises(TypeError, match="no codec for datetime; register one with typed.register_codec"):
        DataclassCodec(Event)
    with pytest.raises(TypeError, match="needs a dataclass"):
        DataclassCodec(dict)


def test_registered_codecs_apply_to_nested_fields():
    class IsoDate(typed.Codec[dt.date]):
        def to_json(self, value: dt.date) -> Any:
            return value.isoformat()

        def from_json(self, data: Any) -> dt.date:
            return dt.date.fromisoformat(data)

    @dataclasses.dataclass
    class Booking:
        day: dt.date

    typed.register_codec(dt.date, IsoDate())
    try:
        codec = codec_for(list[Booking])
        assert codec.to_json([Booking(dt.date(2026, 1, 2))]) == [{"day": "2026-01-02"}]
        assert codec.from_json([{"day": "2026-01-02"}]) == [Booking(dt.date(2026, 1, 2))]
    finally:
        typed.register_codec(dt.date, None)
    with pytest.raises(TypeError, match="no codec for date"):
        codec_for(dt.date)


# ---- typed LLM calls --------------------------------------------------------------------


@dataclasses.dataclass
class Answer:
    text: str
    tokens: int


async def test_llm_execute_returns_the_typed_response(events, registered):
    registered(intercepts, "llm_execution", "count", 0,
               lambda name, request, next_: _add_tokens(next_(request)))

    async def model(request: LLMRequest) -> Answer:
        return Answer(text=request.content["prompt"].upper(), tokens=1)

    answer = await typed.llm_execute("m", LLMRequest({}, {"prompt": "hi"}), model)
    assert answer == Answer("HI", 11)
    assert events.one("m", "end").data == {"text": "HI", "tokens": 11}


async def _add_tokens(pending):
    response = await pending
    return {**response, "tokens": response["tokens"] + 10}


async def test_llm_execute_response_errors_say_which_call():
    with pytest.raises(ConversionError, match=r"^LLM 'm' response tokens: expected int, got str 'many'$"):
        await typed.llm_execute("m", LLMRequest({}, None), lambda r: Answer("x", "many"),  # type: ignore[arg-type]
                                DataclassCodec(Answer))
    with pytest.raises(ConversionError, match=r"^LLM 'm' response: expected Answer, got dict"):
        await typed.llm_execute("m", LLMRequest({}, None), lambda r: {"text": "x"}, DataclassCodec(Answer))


@dataclasses.dataclass
class Token:
    text: str


async def test_llm_stream_execute_typed_chunks_collector_and_finalizer(events):
    async def stream(request: LLMRequest):
        for word in ("a", "b"):
            yield Token(word)

    collected: list[Token] = []
    result = await typed.llm_stream_execute(
        "s", LLMRequest({}, None), stream, collected.append,
        lambda: Answer("".join(t.text for t in collected), len(collected)),
        DataclassCodec(Token), DataclassCodec(Answer))
    assert [c async for c in result] == [{"text": "a"}, {"text": "b"}]  # the stream gives JSON chunks
    assert collected == [Token("a"), Token("b")]
    assert [m.data["chunk"] for m in events.named("llm.chunk")] == [{"text": "a"}, {"text": "b"}]
    assert events.one("s", "end").data == {"text": "ab", "tokens": 2}


async def test_llm_stream_chunk_of_the_wrong_type_ends_the_stream_with_an_error(events):
    async def stream(request: LLMRequest):
        yield "not a token"

    result = await typed.llm_stream_execute("s", LLMRequest({}, None), stream, lambda c: None, lambda: None,
                                            DataclassCodec(Token), JsonPassthrough())
    with pytest.raises(ConversionError, match="^LLM 's' stream chunk: expected Token, got str"):
        await result.__anext__()
    assert events.one("s", "end").metadata["otel.status_code"] == "ERROR"


# ---- BestEffortAnyCodec ---------------------------------------------------------------


def test_best_effort_round_trips_and_never_raises_on_decode():
    codec = BestEffortAnyCodec()
    for value in (1, "x", None, [1, {"a": 2}], Location("Paris"), Item(name="n", price=1.0), {1, 2}):
        assert codec.from_json(codec.to_json(value)) == value
    tagged = codec.to_json(Forecast(Location("a"), Unit.F, [Reading(0, 1.0, None)]))
    assert tagged["__nv_dataclass__"] == f"{__name__}.Forecast"
    assert tagged["data"]["unit"] == "fahrenheit"
    assert codec.from_json(tagged).readings == [Reading(0, 1.0, None)]  # nested fields rebuilt too
    assert codec.from_json({"__nv_dataclass__": "no.such.Type", "data": {}}) == {
        "__nv_dataclass__": "no.such.Type", "data": {}}


def test_best_effort_unpickles_only_what_this_process_pickled():
    codec = BestEffortAnyCodec()
    mine = codec.to_json({1, 2})
    assert codec.from_json(mine) == {1, 2}
    forged = {"__nv_pickle__": "builtins.set", "data": base64.b64encode(pickle.dumps({3})).decode(), "mac": "0" * 64}
    assert codec.from_json(forged) == forged  # returned as it is, never unpickled
    unsigned = {"__nv_pickle__": "builtins.set", "data": mine["data"]}
    assert codec.from_json(unsigned) == unsigned


def test_typed_needs_no_pydantic():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import sys; sys.modules['pydantic'] = None\n"
            "import dataclasses, nemo_relay.typed as t\n"
            "@dataclasses.dataclass\nclass P:\n    x: int\n"
            "assert t.DataclassCodec(P).from_json({'x': 1}) == P(1)\n"
            "assert t.BestEffortAnyCodec().from_json(t.BestEffortAnyCodec().to_json(P(2))) == P(2)\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


# ---- with an LLM codec: the typed response is the provider's JSON ----------------------


class ChatMessage(TypedDict):
    role: str
    content: str


class ChatChoice(TypedDict):
    index: int
    message: ChatMessage
    finish_reason: str


class ChatCompletion(TypedDict):
    id: str
    object: str
    model: str
    choices: list[ChatChoice]
    usage: dict[str, int]


def chat_completion(text: str) -> ChatCompletion:
    return {"id": "c-1", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


async def test_llm_execute_passes_the_llm_codecs_on(events, registered):
    from nemo_relay.codecs import OpenAIChatCodec

    def shout(name, request, annotated):
        annotated.messages = [{**m, "content": m["content"].upper()} for m in annotated.messages]
        return request, annotated

    registered(intercepts, "llm_request", "shout", 0, False, shout)

    def provider(request: LLMRequest) -> ChatCompletion:
        return chat_completion(request.content["messages"][0]["content"])

    codec = OpenAIChatCodec()
    reply = await typed.llm_execute("openai", LLMRequest({}, {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "hi"}]}), provider, codec=codec, response_codec=codec)
    assert reply["choices"][0]["message"]["content"] == "HI"
    start, end = events.named("openai")
    assert start.annotated_request.messages[0]["content"] == "HI"
    assert end.annotated_response.message == "HI" and end.annotated_response.usage["prompt_tokens"] == 3
