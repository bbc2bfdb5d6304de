/*
 * nr_pricing.h -- model pricing: catalogs of per-token rates (NeMo Relay's
 * catalog format, version 1) and cost estimates from token usage.
 *
 * One set of catalogs is active per process: the `pricing` plugin component
 * installs it and its rollback (plugin.clear, a new configuration) removes
 * it.  A response with a model and usage but no cost gets
 * usage.cost = {total, currency, input, output, cache_read, cache_write,
 * source: "model_pricing", pricing_provider, pricing_model, pricing_as_of,
 * pricing_source} when a catalog entry matches the model (its id or an
 * alias, case-insensitively, optionally under a provider prefix such as
 * "openai/gpt-4o").  An unknown model gets no estimate, never a guess.
 */
#ifndef NR_PRICING_H
#define NR_PRICING_H

#include "nr_error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* Checks one catalog ({"version": 1, "entries": [...]}); false with err
 * (NR_E_INVALID_CONFIG) saying which entry and field. */
bool nr_pricing_check_catalog(const cJSON *catalog, nr_error *err);

/* The catalogs of a pricing component config ({"sources": [{"type":
 * "inline", "catalog": {...}} | {"type": "file", "path": "..."}]}), each
 * checked; file sources are read now.  New array, or NULL with err. */
cJSON *nr_pricing_catalogs_from_config(const cJSON *config, nr_error *err);

/* Makes catalogs (an array, taken; NULL for none) the active set. */
void nr_pricing_set_active(cJSON *catalogs);

/* Whether any catalog is active (cheap). */
bool nr_pricing_active(void);

/* The estimate for a model and a usage object (with the annotated usage's
 * keys), from the active catalogs; provider narrows the match (may be
 * NULL).  New object or NULL (no match, nothing to price). */
cJSON *nr_pricing_estimate(const char *provider, const char *model, const cJSON *usage);

/* Adds usage.cost to an annotated response that has a model and usage but
 * no cost, when the active catalogs price it.  Returns whether it did. */
bool nr_pricing_attach(cJSON *annotated_response, const char *provider);

/* Registers the built-in `pricing` plugin kind (once; later calls are
 * no-ops).  false with err on failure. */
bool nr_pricing_register_kind(nr_error *err);

#endif /* NR_PRICING_H */
