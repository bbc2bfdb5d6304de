/* json_nul.c -- finds a "\u0000" escape in JSON text and names its field. */
#include "json_nul.h"

#include <stdio.h>
#include <string.h>

#define NR_NUL_MAX_DEPTH 16 /* deeper levels are named by their first 16 */

typedef struct level {
    bool is_array;
    size_t index;     /* arrays: the current element */
    const char *key;  /* objects: the current key as written (escapes kept) */
    size_t key_len;
} level;

/* Writes the path of levels[0..depth) into where (cap > 0). */
static void write_path(const level *levels, size_t depth, bool in_key, char *where, size_t cap)
{
    size_t used = 0;
    where[0] = '\0';
    if (in_key)
        used += (size_t)snprintf(where, cap, "a key%s", depth > 1 ? " in " : "");
    size_t shown = depth > NR_NUL_MAX_DEPTH ? NR_NUL_MAX_DEPTH : depth;
    if (in_key && shown > 0)
        shown--; /* the key being read is not part of the path */
    for (size_t i = 0; i < shown && used < cap; i++) {
        const level *l = &levels[i];
        int n;
        if (l->is_array)
            n = snprintf(where + used, cap - used, "[%zu]", l->index);
        else
            n = snprintf(where + used, cap - used, "%s%.*s", i > 0 ? "." : "",
                         (int)(l->key_len > 64 ? 64 : l->key_len), l->key != NULL ? l->key : "");
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used == 0 && cap > 0)
        snprintf(where, cap, "the top-level value");
}

static bool is_zero_escape(const char *p, const char *end)
{
    return end - p >= 6 && p[0] == '\\' && p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0;
}

bool nr_json_find_nul(const char *json, size_t len, char *where, size_t cap)
{
    level levels[NR_NUL_MAX_DEPTH + 1];
    size_t depth = 0;
    const char *p = json, *end = json + len;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            const char *start = ++p;
            bool nul = false;
            while (p < end && *p != '"') {
                if (*p == '\\') {
                    nul = nul || is_zero_escape(p, end);
                    p += end - p >= 2 ? 2 : 1;
                } else {
                    p++;
                }
            }
            if (p == end)
                return false; /* unterminated: not JSON, the parser reports it */
            const char *stop = p;
            p++; /* the closing quote */
            const char *q = p;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
                q++;
            level *top = depth > 0 && depth <= NR_NUL_MAX_DEPTH ? &levels[depth - 1] : NULL;
            bool is_key = q < end && *q == ':' && (top == NULL || !top->is_array);
            if (is_key && top != NULL) {
                top->key = start;
                top->key_len = (size_t)(stop - start);
            }
            if (nul) {
                if (cap > 0)
                    write_path(levels, depth, is_key, where, cap);
                return true;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth < NR_NUL_MAX_DEPTH)
                levels[depth] = (level){c == '[', 0, NULL, 0};
            depth++;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        } else if (c == ',' && depth > 0 && depth <= NR_NUL_MAX_DEPTH && levels[depth - 1].is_array) {
            levels[depth - 1].index++;
        }
        p++;
    }
    return false;
}
