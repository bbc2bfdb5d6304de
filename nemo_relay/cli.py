"""The command line: ``python -m nemo_relay``.

Exit codes: 0 success; 1 the command ran and found a problem (a failed
check, a plugin that would not load); 2 wrong usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import nemo_relay

from . import _manifest_text, _native, plugin
from .errors import RelayError

# the manifest checks in the order the loader runs them
CHECKS = [
    ("manifest", "manifest parses and its fields are valid"),
    ("id", "plugin id matches"),
    ("kind", "plugin kind is rust_dynamic or native"),
    ("compat.relay", "compat.relay admits this host"),
    ("native_api", "compat.native_api is 1"),
    ("library", "library exists"),
    ("sha256", "integrity.sha256 matches the library"),
    ("permissions", "library and its directory are not writable by group or others"),
    ("symbol", "load.symbol is given"),
    ("architecture", "library is a shared library for this host's machine"),
]


def _check_report(path: str, plugin_id: str | None, trust_writable: bool) -> dict[str, Any]:
    """Runs every check that needs no dlopen; records which passed."""
    ignored: list[str] = []
    has_sha256 = False
    try:
        resolved, text = plugin._resolve(path, plugin_id)
        ignored = _native.manifest_warnings(resolved, text)
        if text is None:  # the loader's reader: size cap, regular files only
            text = _manifest_text.read_text(resolved, plugin_id)
        integrity = json.loads(text).get("integrity")
        has_sha256 = isinstance(integrity, dict) and integrity.get("sha256") is not None
    except (RelayError, OSError, ValueError, AttributeError):
        pass  # check_manifest reports it below
    try:
        facts = plugin.check_manifest(path, plugin_id=plugin_id, trust_writable=trust_writable)
    except RelayError as exc:
        failed = getattr(exc, "check", None) or "manifest"
        names = [c for c, _ in CHECKS]
        at = names.index(failed) if failed in names else 0
        checks = []
        for i, (name, what) in enumerate(CHECKS):
            status = "passed" if i < at else "failed" if i == at else "not run"
            if name == "id" and plugin_id is None and status == "passed":
                status = "skipped"
            if name == "sha256" and not has_sha256 and status == "passed":
                status = "skipped"
            checks.append({"check": name, "description": what, "status": status,
                           **({"error": str(exc)} if i == at else {})})
        return {"manifest": getattr(exc, "manifest", None) or os.fspath(path), "ok": False,
                "checks": checks, "error": str(exc), "warnings": ignored}
    checks = []
    for name, what in CHECKS:
        status = "passed"
        if name == "id" and plugin_id is None:
            status = "skipped"
        if name == "sha256" and not facts.get("sha256"):
            status = "skipped"
        checks.append({"check": name, "description": what, "status": status})
    return {"manifest": facts["manifest"], "ok": True, "checks": checks, "plugin": facts,
            "warnings": ignored}


def cmd_plugin_check(args: argparse.Namespace) -> int:
    report = _check_report(args.manifest, args.id, args.trust_writable)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"manifest: {report['manifest']}")
        marks = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip", "not run": "    "}
        for c in report["checks"]:
            print(f"  [{marks[c['status']]}] {c['description']}")
        for w in report.get("warnings", []):
            print(f"warning: {w}")
        if report["ok"]:
            facts = report["plugin"]
            print(f"plugin {facts['id']!r} ({facts['kind']}): library {facts['library']}, "
                  f"symbol {facts['symbol']}")
        else:
            print(f"error: {report['error']}")
    return 0 if report["ok"] else 1


def cmd_plugin_digest(args: argparse.Namespace) -> int:
    """Prints the integrity.sha256 value of a library, or of the library a
    manifest (or a directory holding one) names."""
    import hashlib

    target = os.fspath(args.path)
    try:
        if os.path.isdir(target) or target.endswith((".toml", ".json")):
            resolved, text = plugin._resolve(target, None)
            target = _native.check_manifest(resolved, text, None, False, False)["library"]
        with open(target, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except (RelayError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"sha256:{digest}")
    return 0


def _load_config(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    text = value
    if os.path.exists(value):
        with open(value) as f:
            text = f.read()
    config = json.loads(text)
    if not isinstance(config, dict):
        raise ValueError("--config must be a JSON object (inline or a file)")
    return config


def cmd_plugin_inspect(args: argparse.Namespace) -> int:
    try:
        config = _load_config(args.config)
        path = _native.resolve_manifest(os.fspath(args.manifest))
        plugin_id = args.id or plugin.check_manifest(path, trust_writable=args.trust_writable)["id"]
        activation = plugin.load_native_plugins(
            [plugin.NativePluginLoadSpec(plugin_id, path, trust_writable=args.trust_writable)])
    except (RelayError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    status = 0
    try:
        info = activation.plugins[0]
        print(f"plugin: {info['kind']}")
        print(f"library: {info['library']}")
        print(f"abi: v{info['abi_version']}")
        print(f"allows_multiple_components: {str(info['allows_multiple_components']).lower()}")
        doc = {"components": [{"kind": plugin_id, "config": config}]}
        report = plugin.validate(doc)
        print("validation:" + (" ok" if not report["diagnostics"] else ""))
        for d in report["diagnostics"]:
            where = f" [{d['field']}]" if "field" in d else ""
            print(f"  {d['level']}: {d['code']}{where}: {d['message']}")
        if any(d["level"] == "error" for d in report["diagnostics"]):
            return 1
        try:
            with warnings.catch_warnings():  # the diagnostics are printed above
                warnings.simplefilter("ignore", RuntimeWarning)
                asyncio.run(plugin.initialize(doc))
            prefix = f"__nemo_relay_plugin__{plugin_id}__"
            regs = [r for r in _native._registrations() if r["name"].startswith(prefix)]
            print(f"registrations ({len(regs)}):")
            for r in regs:
                extra = ", break_chain" if r["break_chain"] else ""
                print(f"  {r['kind']}: {r['name'][len(prefix):]} (priority {r['priority']}{extra})")
        except RelayError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
        finally:
            plugin.clear()
    finally:
        activation.close()
    return status


SCAFFOLD_C = r'''/*
 * {name}.c -- a nemo_relay native plugin (ABI v1).
 *
 * Build with `make` (the Makefile asks nemo_relay for the header's directory),
 * check with `python -m nemo_relay plugin inspect .`.
 *
 * It registers two things:
 *   - a tool conditional-execution guardrail that rejects any tool whose name
 *     starts with "dangerous_";
 *   - an event subscriber that counts events.
 *
 * Ownership rules of the ABI (see nemo_relay_plugin.h):
 *   - every string you receive is borrowed: read it with string_data/string_len
 *     (it is NOT NUL-terminated) and never free it;
 *   - every string you return is made with string_new and belongs to the host;
 *   - if a plugin_context_register_* call fails, the host took nothing: free
 *     your user_data yourself.  On success the host calls your free_fn once.
 */
#include <nemo_relay_plugin.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct plugin_state {{
    const NemoRelayNativeHostApiV1 *host; /* lives for the whole process */
    atomic_long events;                   /* counted by the subscriber */
}} plugin_state;

static NemoRelayStatus count_event(void *user_data, const NemoRelayNativeString *event_json)
{{
    (void)event_json;
    plugin_state *st = user_data;
    atomic_fetch_add(&st->events, 1);
    return NEMO_RELAY_STATUS_OK;
}}

static NemoRelayStatus block_dangerous(void *user_data, const NemoRelayNativeString *name,
                                       const NemoRelayNativeString *args_json,
                                       NemoRelayNativeString **out_reason)
{{
    (void)args_json;
    plugin_state *st = user_data;
    static const char prefix[] = "dangerous_";
    size_t len = st->host->string_len(name);
    *out_reason = NULL; /* NULL allows the call */
    if (len >= sizeof prefix - 1 && memcmp(st->host->string_data(name), prefix, sizeof prefix - 1) == 0) {{
        static const char reason[] = "{name}: dangerous tools are blocked";
        return st->host->string_new((const uint8_t *)reason, sizeof reason - 1, out_reason);
    }}
    return NEMO_RELAY_STATUS_OK;
}}

static NemoRelayStatus plugin_register(void *user_data, const NemoRelayNativeString *config_json,
                                       NemoRelayNativePluginContext *ctx)
{{
    (void)config_json;
    plugin_state *st = user_data;
    const NemoRelayNativeHostApiV1 *host = st->host;
    NemoRelayNativeString *name = NULL;
    NemoRelayStatus rc = host->string_new((const uint8_t *)"block_dangerous", 15, &name);
    if (rc != NEMO_RELAY_STATUS_OK)
        return rc;
    /* The state outlives the registrations (it is freed by drop), so no free_fn. */
    rc = host->plugin_context_register_tool_conditional_execution_guardrail(
        ctx, name, 0, block_dangerous, st, NULL);
    host->string_free(name);
    if (rc != NEMO_RELAY_STATUS_OK)
        return rc;
    name = NULL;
    rc = host->string_new((const uint8_t *)"count_events", 12, &name);
    if (rc != NEMO_RELAY_STATUS_OK)
        return rc;
    rc = host->plugin_context_register_subscriber(ctx, name, count_event, st, NULL);
    host->string_free(name);
    return rc;
}}

static void plugin_drop(void *user_data)
{{
    free(user_data);
}}

/* Refuses to load with a sentence the host shows the user (its last error),
 * as every failing entry should.  A table from another ABI version may lay
 * out its functions differently, so they are used only when the table is big
 * enough to hold them where v1 puts them. */
static NemoRelayStatus refuse(const NemoRelayNativeHostApiV1 *host, NemoRelayStatus status,
                              const char *why)
{{
    if (host->struct_size >= offsetof(NemoRelayNativeHostApiV1, last_error_set) + sizeof host->last_error_set) {{
        NemoRelayNativeString *message = NULL;
        if (host->string_new((const uint8_t *)why, strlen(why), &message) == NEMO_RELAY_STATUS_OK) {{
            host->last_error_set(message);
            host->string_free(message);
        }}
    }}
    return status;
}}

NEMO_RELAY_PLUGIN_EXPORT NemoRelayStatus {symbol}(const NemoRelayNativeHostApiV1 *host,
                                                  NemoRelayNativePluginV1 *out)
{{
    if (host == NULL || out == NULL)
        return NEMO_RELAY_STATUS_NULL_POINTER;
    if (host->abi_version != NEMO_RELAY_NATIVE_ABI_VERSION ||
        host->struct_size < sizeof(NemoRelayNativeHostApiV1)) {{
        char why[512];
        snprintf(why, sizeof why,
                 "{name} was built for native plugin ABI v%d; this host speaks v%u (a host table of %zu "
                 "bytes): rebuild it against this host's nemo_relay_plugin.h",
                 NEMO_RELAY_NATIVE_ABI_VERSION, (unsigned)host->abi_version, host->struct_size);
        return refuse(host, NEMO_RELAY_STATUS_INVALID_ARG, why);
    }}
    plugin_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return refuse(host, NEMO_RELAY_STATUS_INTERNAL, "{name}: out of memory");
    st->host = host;
    atomic_init(&st->events, 0);
    static const char kind[] = "{name}";
    NemoRelayStatus rc = host->string_new((const uint8_t *)kind, sizeof kind - 1, &out->plugin_kind);
    if (rc != NEMO_RELAY_STATUS_OK) {{
        free(st);
        return rc;
    }}
    out->allows_multiple_components = true;
    out->user_data = st;
    out->validate = NULL; /* optional: return diagnostics for a config */
    out->register_ = plugin_register;
    out->drop = plugin_drop;
    return NEMO_RELAY_STATUS_OK;
}}
'''

SCAFFOLD_MANIFEST = '''manifest_version = 1
description = "The {name} native plugin"

[plugin]
id = "{name}"
kind = "native"
version = "0.1.0"

[compat]
relay = "^{relay}"
native_api = "1"

[defaults]
enabled = false

[capabilities]
items = ["plugin_native"]

[load]
library = "lib{name}.so"
symbol = "{symbol}"
'''

SCAFFOLD_MAKEFILE = '''# Builds lib{name}.so against the nemo_relay plugin header.
# PYTHON is the interpreter that created this project (it has nemo_relay
# installed), so no virtualenv needs to be active; `make PYTHON=...` overrides.
PYTHON ?= {python}
INCLUDE := $(shell $(PYTHON) -P -m nemo_relay --include)
ifeq ($(INCLUDE),)
$(error $(PYTHON) cannot find nemo_relay; run `make PYTHON=/path/to/python` with a Python that has it installed)
endif
CFLAGS ?= -std=c11 -O2 -Wall -Wextra -Werror
PLUGIN_CFLAGS := -fPIC -fvisibility=hidden -I$(INCLUDE)

lib{name}.so: {name}.c
\t$(CC) $(CFLAGS) $(PLUGIN_CFLAGS) -shared $< -o $@
\tchmod 755 $@

check: lib{name}.so
\t$(PYTHON) -P -m nemo_relay plugin inspect .

clean:
\trm -f lib{name}.so

.PHONY: check clean
'''

SCAFFOLD_README = '''# {name}

A native plugin for nemo_relay (ABI v1).

    make                                   # builds lib{name}.so
    python -m nemo_relay plugin inspect .  # loads it and lists what it registers

Use it from Python:

    from nemo_relay import plugin
    spec = plugin.DynamicPluginActivationSpec("{name}", "native", "path/to/{name}")
    async with await plugin.initialize_with_dynamic_plugins(None, [spec]):
        ...
'''


def cmd_plugin_new(args: argparse.Namespace) -> int:
    name = args.name
    if not name.isidentifier():
        print(f"error: plugin name must be a C identifier (letters, digits, _), not {name!r}", file=sys.stderr)
        return 2
    target = os.path.join(args.dir, name)
    if os.path.exists(target):
        print(f"error: {target} already exists", file=sys.stderr)
        return 1
    os.makedirs(target, mode=0o755)
    os.chmod(target, 0o755)
    symbol = f"nemo_relay_{name}_plugin"
    files = {
        f"{name}.c": SCAFFOLD_C.format(name=name, symbol=symbol),
        "relay-plugin.toml": SCAFFOLD_MANIFEST.format(name=name, symbol=symbol, relay=nemo_relay.__version__),
        "Makefile": SCAFFOLD_MAKEFILE.format(name=name, python=sys.executable),
        "README.md": SCAFFOLD_README.format(name=name),
    }
    for filename, text in files.items():
        with open(os.path.join(target, filename), "w") as f:
            f.write(text)
    print(f"created {target}/ ({', '.join(sorted(files))})")
    print(f"next: cd {target} && make && python -m nemo_relay plugin inspect .")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from . import _demo

    return _demo.main(args.output, args.otlp_endpoint, args.otlp_format)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m nemo_relay",
        description="nemo_relay's command line: run the demo agent; check, inspect, digest or create "
                    "native plugins.",
        epilog="Exit codes: 0 success; 1 the command ran and found a problem (a failed check, a plugin "
               "that would not load); 2 wrong usage.")
    p.add_argument("--version", action="version", version=f"nemo_relay {nemo_relay.__version__}")
    p.add_argument("--include", action="store_true",
                   help="print the directory of nemo_relay_plugin.h and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run a small simulated agent and show its events",
                          description="Runs a simulated agent (a fake LLM asking for two tool calls, one "
                                      "rejected by a guardrail) with the bundled redact and atof_file "
                                      "plugins loaded, prints the event tree and writes the ATOF JSONL file.")
    demo.add_argument("--output", default="nemo-relay-demo.jsonl", help="where to write the ATOF JSONL file")
    demo.add_argument("--otlp-endpoint", metavar="URL",
                      help="also export the run as spans to this OTLP/HTTP endpoint, e.g. "
                           "http://127.0.0.1:6006/v1/traces (Phoenix); needs the otel extra")
    demo.add_argument("--otlp-format", choices=("openinference", "opentelemetry"), default="openinference",
                      help="span attributes: OpenInference (default; Phoenix) or OpenTelemetry GenAI")
    demo.set_defaults(func=cmd_demo)

    pl = sub.add_parser("plugin", help="native plugin tools", description="Check, inspect or create native plugins.")
    psub = pl.add_subparsers(dest="plugin_command", metavar="SUBCOMMAND")
    check = psub.add_parser("check", help="run every manifest check that needs no dlopen",
                            description="Runs every manifest check that needs no dlopen and prints a report; "
                                        "exits 1 if any fails.")
    check.add_argument("manifest", help="relay-plugin.toml/.json, or a directory holding one")
    check.add_argument("--id", help="the plugin id the manifest must declare")
    check.add_argument("--trust-writable", action="store_true", help="allow a group/other-writable library")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_plugin_check)

    digest = psub.add_parser("digest", help="print the sha256 to put in a manifest's [integrity] table",
                             description="Prints 'sha256:<hex>' of a library, or of the library named by a "
                                         "manifest (or a directory holding one): the value of integrity.sha256.")
    digest.add_argument("path", help="a shared library, a relay-plugin.toml/.json, or a directory holding one")
    digest.set_defaults(func=cmd_plugin_digest)

    inspect = psub.add_parser("inspect", help="load a plugin and list what it registers",
                              description="Loads the plugin in this process, prints its kind, ABI version, "
                                          "allows_multiple_components, the validation of --config and the "
                                          "registrations it makes, then unloads it.")
    inspect.add_argument("manifest", help="relay-plugin.toml/.json, or a directory holding one")
    inspect.add_argument("--config", help="component config: inline JSON or a JSON file")
    inspect.add_argument("--id", help="plugin id (default: the manifest's)")
    inspect.add_argument("--trust-writable", action="store_true", help="allow a group/other-writable library")
    inspect.set_defaults(func=cmd_plugin_inspect)

    new = psub.add_parser("new", help="scaffold a C plugin project",
                          description="Creates <dir>/<name>/ with a C source using only nemo_relay_plugin.h, "
                                      "relay-plugin.toml, a Makefile and a README.")
    new.add_argument("name", help="plugin name (a C identifier; also the plugin id)")
    new.add_argument("--dir", default=".", help="parent directory (default: .)")
    new.set_defaults(func=cmd_plugin_new)

    def plugin_help(args: argparse.Namespace) -> int:
        pl.print_help()
        return 2

    pl.set_defaults(func=plugin_help)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.include:
        print(nemo_relay.get_include())
        return 0
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result
