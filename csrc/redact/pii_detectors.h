/*
 * pii_detectors.h -- the built-in PII and secret detectors.
 *
 * A detector is a PCRE2 pattern (compiled by the caller, once per
 * configuration), an optional check that rejects look-alike matches (a Luhn
 * check for card numbers, a digit count for phone numbers, ...) and the
 * detector's default mask.  Names follow NeMo Relay's detector catalog.
 */
#ifndef PII_DETECTORS_H
#define PII_DETECTORS_H

#include "pii_text.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct pii_detector {
    const char *name;
    const char *category; /* "common PII", "structured secrets", "cloud credentials" */
    const char *pattern;  /* PCRE2 syntax, compiled with PCRE2_UTF */
    /* Optional: false rejects a match the pattern found (text is the match). */
    bool (*accept)(const char *text, size_t len);
    /* Appends the masked form of a match. */
    bool (*mask)(pii_buf *out, const char *text, size_t len, const char *mask_char);
} pii_detector;

/* The detector called name, or NULL. */
const pii_detector *pii_detector_find(const char *name);

/* All detectors, in catalog order; *count receives their number. */
const pii_detector *pii_detectors(size_t *count);

/* "common PII: email, ...; structured secrets: ...; cloud credentials: ..."
 * (static storage). */
const char *pii_detector_summary(void);

/* The Luhn checksum over the digits of text (other characters skipped). */
bool pii_luhn_valid(const char *text, size_t len);

#endif /* PII_DETECTORS_H */
