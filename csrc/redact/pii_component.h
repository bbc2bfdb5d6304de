/*
 * pii_component.h -- the built-in `pii_redaction` plugin kind.
 *
 * nr_pii_install registers the kind with the runtime's plugin registry (the
 * binding calls it once at module init).  A component compiles its policy
 * once, at register, and installs up to four native sanitize guardrails
 * (tool_input, tool_output, input, output) at the configured priority: they
 * change what events record, never what the tool or model receives or
 * returns (SPEC D6).
 */
#ifndef PII_COMPONENT_H
#define PII_COMPONENT_H

#include "nr_error.h"

/* Registers the kind; AlreadyExists if it is registered already. */
NemoRelayStatus nr_pii_install(nr_error *err);

#endif /* PII_COMPONENT_H */
