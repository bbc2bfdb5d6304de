/*
 * json_nul.h -- finds a "\u0000" escape in JSON text.
 *
 * cJSON decodes "\u0000" into a C string that ends at the NUL, so a manifest
 * id "fixture_native\u0000x" would read as "fixture_native".  The manifest
 * checker asks this scanner first and refuses such text, naming the field.
 */
#ifndef NR_JSON_NUL_H
#define NR_JSON_NUL_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a string in the JSON text (len bytes, need not be NUL-terminated;
 * expected to be valid JSON) contains a \u0000 escape.  If so, where[] gets
 * the field's path, e.g. "plugin.id" or "capabilities.items[1]" (truncated to
 * cap bytes, always terminated; "a key in plugin" when the key itself holds
 * the NUL). */
bool nr_json_find_nul(const char *json, size_t len, char *where, size_t cap);

#endif /* NR_JSON_NUL_H */
