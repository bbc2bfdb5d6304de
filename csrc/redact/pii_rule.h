/*
 * pii_rule.h -- a compiled redaction rule and policy (internal to
 * csrc/redact: pii_policy.c builds them, pii_apply.c applies them).
 */
#ifndef PII_RULE_H
#define PII_RULE_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "pii_detectors.h"
#include "pii_policy.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum pii_action { PII_REMOVE, PII_REDACT, PII_REGEX_REPLACE, PII_HASH, PII_MASK } pii_action;

typedef struct pii_rule {
    pii_action action;
    pcre2_code *code;              /* owned; NULL: the rule acts on whole strings */
    const pii_detector *detector;  /* the detector behind code, or NULL */
    char *replacement;             /* owned: redact / regex_replace */
    bool expand;                   /* the replacement has '$' references */
    char *mask_char;               /* owned */
    bool detector_mask;            /* mask with the detector's default */
    size_t prefix, suffix;         /* generic mask */
    char **targets;                /* owned JSON pointers; none: every string */
    size_t n_targets;
} pii_rule;

struct pii_policy {
    pii_rule *rules;
    size_t n_rules;
    pii_surfaces surfaces;
    uint32_t max_pairs; /* ovector pairs the largest pattern needs */
    char *codec;        /* owned: the configured codec's name, or NULL */
};

#endif /* PII_RULE_H */
