/*
 * exact_json.h -- JSON numbers that round-trip through cJSON.
 *
 * cJSON keeps a number only as a double and prints it with 15 significant
 * digits: 0.1+0.2 comes out as 0.3, 2**53+1 as 9007199254740992, and 1.0 as
 * 1 (an int to every reader that tells ints from floats).  Here a number item
 * may carry its exact JSON text in `valuestring`, which cJSON leaves unused
 * for numbers but duplicates (cJSON_Duplicate) and frees (cJSON_Delete) like
 * any other valuestring:
 *
 *   - ej_keep_number_texts, after a parse, gives every number literal that a
 *     double does not reproduce as written (anything but an integer of at
 *     most 15 digits: 1.0, 1E5, 9007199254740993, 0.30000000000000004) its
 *     original text;
 *   - ej_number_with_text makes such an item (a big int, an integral float);
 *   - ej_print prints the text where there is one, and any other number as
 *     the shortest text that parses back to the same double.
 *
 * Code that changes a number's value must drop its text (ej_clear_text).
 * Shared by the runtime (csrc/runtime/nr_json.c) and the bundled plugins;
 * header-only (static functions), depends on cJSON and libc only.
 */
#ifndef NEMO_RELAY_EXACT_JSON_H
#define NEMO_RELAY_EXACT_JSON_H

#include <cjson/cJSON.h>

#include <float.h>
#include <math.h> /* isfinite, a macro */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define EJ_MAYBE_UNUSED __attribute__((unused))
#else
#define EJ_MAYBE_UNUSED
#endif

/* Enough for "-" + 17 digits + "." + "e-308" + ".0" + NUL. */
#define EJ_NUMBER_MAX 40

/* |d| and "d is a finite integer" without libm (the plugins link cJSON only). */
static EJ_MAYBE_UNUSED double ej_abs(double d)
{
    return d < 0 ? -d : d;
}

static EJ_MAYBE_UNUSED bool ej_integral(double d)
{
    /* from 2**52 on every double is an integer */
    return isfinite(d) && (ej_abs(d) >= 4503599627370496.0 || (double)(long long)d == d);
}

/* A malloc'd (cJSON allocator) copy of len bytes of text, NUL-terminated. */
static EJ_MAYBE_UNUSED char *ej_copy(const char *text, size_t len)
{
    char *out = cJSON_malloc(len + 1);
    if (out != NULL) {
        memcpy(out, text, len);
        out[len] = '\0';
    }
    return out;
}

/* Writes d into buf as the shortest %g text (15 to 17 significant digits; 1
 * to 17 for subnormals, which carry fewer) that strtod reads back as exactly
 * d, with '.' as the decimal point whatever the locale.  as_float: an
 * integral result gets ".0" (as Python writes floats).  Non-finite -> "null". */
static EJ_MAYBE_UNUSED void ej_format_double(double d, bool as_float, char buf[EJ_NUMBER_MAX])
{
    if (!isfinite(d)) {
        memcpy(buf, "null", 5);
        return;
    }
    if (!as_float && ej_integral(d) && ej_abs(d) < 9007199254740992.0) {
        snprintf(buf, EJ_NUMBER_MAX, "%.0f", d); /* exact: an integer below 2**53 */
        return;
    }
    for (int digits = ej_abs(d) < DBL_MIN ? 1 : 15; digits <= 17; digits++) {
        snprintf(buf, EJ_NUMBER_MAX, "%.*g", digits, d);
        if (strtod(buf, NULL) == d) {
            break; /* %.17g always gets here: 17 digits identify every double */
        }
    }
    bool integral = true;
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == 'e') {
            integral = false;
        } else if (*p != '-' && *p != '+' && (*p < '0' || *p > '9')) {
            *p = '.'; /* the locale's decimal point */
            integral = false;
        }
    }
    if (as_float && integral) {
        strcat(buf, ".0");
    }
}

/* A number item for d that prints as text (copied).  NULL when out of memory. */
static EJ_MAYBE_UNUSED cJSON *ej_number_with_text(double d, const char *text)
{
    cJSON *item = cJSON_CreateNumber(d);
    if (item != NULL && (item->valuestring = ej_copy(text, strlen(text))) == NULL) {
        cJSON_Delete(item);
        item = NULL;
    }
    return item;
}

/* A float as a number item: an integral one keeps its ".0" (as text). */
static EJ_MAYBE_UNUSED cJSON *ej_float(double d)
{
    if (isfinite(d) && !ej_integral(d)) {
        return cJSON_CreateNumber(d); /* printed shortest, never integral */
    }
    char text[EJ_NUMBER_MAX];
    ej_format_double(d, true, text);
    return ej_number_with_text(d, text);
}

/* Forgets a number's text (before changing its value). */
static EJ_MAYBE_UNUSED void ej_clear_text(cJSON *number)
{
    if (cJSON_IsNumber(number) && number->valuestring != NULL) {
        cJSON_free(number->valuestring);
        number->valuestring = NULL;
    }
}

/* ---- parsing ----------------------------------------------------------------------- */

/* Whether text[0..len) is a JSON number (cJSON also takes 01, 1., -.5, +1e). */
static EJ_MAYBE_UNUSED bool ej_is_json_number(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-') {
        i++;
    }
    if (i < len && s[i] == '0') {
        i++;
    } else if (i < len && s[i] >= '1' && s[i] <= '9') {
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    } else {
        return false;
    }
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == start) {
            return false;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == start) {
            return false;
        }
    }
    return i == len;
}

/* The next number literal in text[*pos..len): its start, *n its length
 * (strings, whose digits are not numbers, are skipped).  -1 if none. */
static EJ_MAYBE_UNUSED long ej_next_literal(const char *text, size_t len, size_t *pos, size_t *n)
{
    size_t i = *pos;
    while (i < len) {
        char c = text[i];
        if (c == '"') {
            for (i++; i < len && text[i] != '"'; i++) {
                if (text[i] == '\\') {
                    i++;
                }
            }
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            while (i < len && text[i] != '\0' && strchr("0123456789+-.eE", text[i]) != NULL) {
                i++;
            }
            *pos = i;
            *n = i - start;
            return (long)start;
        } else {
            i++;
        }
    }
    *pos = len;
    return -1;
}

/* Walks item and its following siblings in document order, matching each
 * number item with the next literal of the text it was parsed from. */
static EJ_MAYBE_UNUSED bool ej_attach_texts(cJSON *item, const char *text, size_t len, size_t *pos)
{
    for (; item != NULL; item = item->next) {
        if (cJSON_IsNumber(item)) {
            size_t n = 0;
            long start = ej_next_literal(text, len, pos, &n);
            if (start < 0) {
                return true; /* cannot happen for text cJSON parsed */
            }
            const char *lit = text + start;
            /* an integer of up to 15 digits prints back as written */
            bool small_int = n - (lit[0] == '-') <= 15;
            for (size_t k = 0; small_int && k < n; k++) {
                small_int = lit[k] != '.' && lit[k] != 'e' && lit[k] != 'E';
            }
            ej_clear_text(item);
            if (!small_int && ej_is_json_number(lit, n) && (item->valuestring = ej_copy(lit, n)) == NULL) {
                return false;
            }
        } else if (item->child != NULL && !ej_attach_texts(item->child, text, len, pos)) {
            return false;
        }
    }
    return true;
}

/* After root was parsed from text[0..len): gives its numbers their literal
 * text where a double would not print it back (see the header comment).
 * False when out of memory (root stays valid, some texts missing). */
static EJ_MAYBE_UNUSED bool ej_keep_number_texts(cJSON *root, const char *text, size_t len)
{
    size_t pos = 0;
    return root == NULL || ej_attach_texts(root, text, len, &pos);
}

/* ---- printing ---------------------------------------------------------------------- */

/* Whether cJSON's printer would write this number differently from ours: it
 * is exact only for integers that fit an int. */
static EJ_MAYBE_UNUSED bool ej_needs_own_text(const cJSON *number)
{
    return number->valuestring != NULL || number->valuedouble != (double)number->valueint;
}

static EJ_MAYBE_UNUSED bool ej_tree_needs_own_texts(const cJSON *item)
{
    if (cJSON_IsNumber(item)) {
        return ej_needs_own_text(item);
    }
    for (const cJSON *c = item->child; c != NULL; c = c->next) {
        if (ej_tree_needs_own_texts(c)) {
            return true;
        }
    }
    return false;
}

/* Turns the numbers of a private copy into raw items holding their text. */
static EJ_MAYBE_UNUSED bool ej_numbers_to_raw(cJSON *item)
{
    if (cJSON_IsNumber(item)) {
        if (!ej_needs_own_text(item)) {
            return true;
        }
        if (item->valuestring == NULL) {
            char text[EJ_NUMBER_MAX];
            ej_format_double(item->valuedouble, false, text);
            if ((item->valuestring = ej_copy(text, strlen(text))) == NULL) {
                return false;
            }
        }
        item->type = (item->type & ~0xFF) | cJSON_Raw;
        return true;
    }
    for (cJSON *c = item->child; c != NULL; c = c->next) {
        if (!ej_numbers_to_raw(c)) {
            return false;
        }
    }
    return true;
}

/* Compact JSON text of item (not its siblings) with every number exact; the
 * caller frees it with cJSON_free.  NULL when out of memory. */
static EJ_MAYBE_UNUSED char *ej_print(const cJSON *item)
{
    if (item == NULL) {
        return NULL;
    }
    if (!ej_tree_needs_own_texts(item)) {
        return cJSON_PrintUnformatted(item);
    }
    /* cJSON cannot be told how to print a number: print a copy in which the
     * numbers are raw text */
    cJSON *copy = cJSON_Duplicate(item, true);
    char *out = copy != NULL && ej_numbers_to_raw(copy) ? cJSON_PrintUnformatted(copy) : NULL;
    cJSON_Delete(copy);
    return out;
}

#endif /* NEMO_RELAY_EXACT_JSON_H */
