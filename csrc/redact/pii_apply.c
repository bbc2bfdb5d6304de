/*
 * pii_apply.c -- applying a compiled policy to a JSON payload.
 *
 * Each rule walks the tree in pre-order, keeping the JSON pointer of the
 * current node.  With target paths, only the nodes at those pointers are
 * touched (remove drops the node, whatever it holds; the other actions
 * change a string found there); without, every string leaf is.  Removing an
 * object member drops it, an array element becomes null, the root becomes
 * null.
 *
 * Matching: one pcre2_match_data per application (so a policy is shared by
 * any number of threads).  Every string of the payload is checked for UTF-8
 * once, before the first rule (a payload with a malformed string is not
 * recorded), so PCRE2 never re-checks a subject; what the rules write back is
 * UTF-8 too (whole characters of the input, validated replacement and mask
 * text, hex digests).  A detector's accept() may reject a match, and the
 * search then resumes one character further.
 */
#include "pii_rule.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct applier {
    const pii_policy *policy;
    pcre2_match_data *md;
    pii_buf path;   /* JSON pointer of the current node */
    pii_buf out;    /* scratch for a rewritten string */
    bool changed;
    char *error;    /* first failure (malloc'd) */
} applier;

static bool fail(applier *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static bool fail(applier *a, const char *fmt, ...)
{
    if (a->error == NULL) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        a->error = malloc(strlen(msg) + 1);
        if (a->error != NULL)
            strcpy(a->error, msg);
    }
    return false;
}

/* ---- one string ------------------------------------------------------------------ */

typedef enum outcome { KEEP, REWRITTEN, DROP, FAILED } outcome;

/* Appends the replacement with $n, ${n}, ${name}, $name and $$ expanded
 * (an unknown or unset group expands to nothing). */
static bool expand(applier *a, const pii_rule *r, const char *subject)
{
    const char *t = r->replacement;
    if (!r->expand)
        return pii_buf_append_str(&a->out, t);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(a->md);
    uint32_t pairs = pcre2_get_ovector_count(a->md);
    while (*t != '\0') {
        if (*t != '$') {
            const char *next = strchr(t, '$');
            size_t n = next != NULL ? (size_t)(next - t) : strlen(t);
            if (!pii_buf_append(&a->out, t, n))
                return false;
            t += n;
            continue;
        }
        if (t[1] == '$') {
            if (!pii_buf_append(&a->out, "$", 1))
                return false;
            t += 2;
            continue;
        }
        char name[128];
        size_t len = 0;
        const char *after;
        if (t[1] == '{') {
            const char *close = strchr(t + 2, '}');
            if (close == NULL || close == t + 2 || (size_t)(close - t - 2) >= sizeof name) {
                if (!pii_buf_append(&a->out, "$", 1))
                    return false;
                t++;
                continue;
            }
            len = (size_t)(close - t - 2);
            memcpy(name, t + 2, len);
            after = close + 1;
        } else {
            const char *e = t + 1;
            while ((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'z') ||
                   (*e >= 'A' && *e <= 'Z') || *e == '_')
                e++;
            if (e == t + 1 || (size_t)(e - t - 1) >= sizeof name) {
                if (!pii_buf_append(&a->out, "$", 1))
                    return false;
                t++;
                continue;
            }
            len = (size_t)(e - t - 1);
            memcpy(name, t + 1, len);
            after = e;
        }
        name[len] = '\0';
        int group = -1;
        if (strspn(name, "0123456789") == len)
            group = len < 6 ? atoi(name) : -1;
        else
            group = pcre2_substring_number_from_name(r->code, (PCRE2_SPTR)name);
        if (group >= 0 && (uint32_t)group < pairs && ov[2 * group] != PCRE2_UNSET &&
            !pii_buf_append(&a->out, subject + ov[2 * group], ov[2 * group + 1] - ov[2 * group]))
            return false;
        t = after;
    }
    return true;
}

/* Appends what a rule makes of one match (or of a whole string). */
static bool transform(applier *a, const pii_rule *r, const char *subject, size_t start,
                      size_t end)
{
    const char *m = subject + start;
    size_t n = end - start;
    switch (r->action) {
    case PII_REDACT:
    case PII_REGEX_REPLACE:
        return expand(a, r, subject);
    case PII_HASH:
        return pii_sha256_hex(&a->out, m, n);
    case PII_MASK:
        if (r->detector_mask)
            return r->detector->mask(&a->out, m, n, r->mask_char);
        return pii_mask_generic(&a->out, m, n, r->mask_char, r->prefix, r->suffix);
    case PII_REMOVE:
        break;
    }
    return true;
}

/* Next accepted match at or after *pos: true with [*ms, *me), false when
 * there is none (or on failure, with a->error set). */
static bool next_match(applier *a, const pii_rule *r, const char *s, size_t n, size_t *pos,
                       uint32_t *options, size_t *ms, size_t *me)
{
    while (*pos <= n) {
        int rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, *pos, *options, a->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            return false;
        if (rc < 0) {
            PCRE2_UCHAR text[200];
            pcre2_get_error_message(rc, text, sizeof text);
            return fail(a, "matching failed: %s", (const char *)text);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(a->md);
        *ms = ov[0];
        *me = ov[1];
        if (r->detector == NULL || r->detector->accept == NULL ||
            r->detector->accept(s + *ms, *me - *ms))
            return true;
        if (*ms >= n) /* a rejected empty match at the end */
            return false;
        *pos = *ms + pii_utf8_len((unsigned char)s[*ms]); /* a look-alike: retry further on */
    }
    return false;
}

static outcome apply_string(applier *a, const pii_rule *r, const char *s, size_t n)
{
    a->out.len = 0;
    a->out.failed = false;
    if (r->code == NULL) {
        if (r->action == PII_REMOVE)
            return DROP;
        return transform(a, r, s, 0, n) && pii_buf_append(&a->out, "", 0)
                   ? REWRITTEN
                   : (fail(a, "out of memory"), FAILED);
    }
    size_t pos = 0, copied = 0, ms = 0, me = 0;
    uint32_t options = PCRE2_NO_UTF_CHECK; /* checked once per payload */
    bool any = false;
    while (next_match(a, r, s, n, &pos, &options, &ms, &me)) {
        if (r->action == PII_REMOVE)
            return DROP;
        any = true;
        pii_buf_append(&a->out, s + copied, ms - copied);
        transform(a, r, s, ms, me);
        copied = me;
        if (me > ms) {
            pos = me;
            continue;
        }
        if (ms >= n) /* an empty match at the end: done */
            break;
        size_t step = pii_utf8_len((unsigned char)s[ms]);
        if (ms + step > n)
            step = n - ms;
        pii_buf_append(&a->out, s + ms, step); /* an empty match: step over one character */
        copied = pos = ms + step;
    }
    if (a->error != NULL)
        return FAILED;
    if (!any)
        return KEEP;
    pii_buf_append(&a->out, s + copied, n - copied);
    if (a->out.failed)
        return fail(a, "out of memory"), FAILED;
    return REWRITTEN;
}

/* ---- the tree -------------------------------------------------------------------- */

static bool is_target(const pii_rule *r, const pii_buf *path)
{
    for (size_t i = 0; i < r->n_targets; i++)
        if (strlen(r->targets[i]) == path->len && memcmp(r->targets[i], path->data, path->len) == 0)
            return true;
    return false;
}

/* Could a target lie below the current node? */
static bool leads_to_target(const pii_rule *r, const pii_buf *path)
{
    for (size_t i = 0; i < r->n_targets; i++) {
        const char *t = r->targets[i];
        if (strlen(t) > path->len && memcmp(t, path->data, path->len) == 0 && t[path->len] == '/')
            return true;
    }
    return false;
}

/* Appends "/" + the escaped key (~ -> ~0, / -> ~1) to the path. */
static bool push_key(pii_buf *path, const char *key)
{
    if (!pii_buf_append(path, "/", 1))
        return false;
    for (;;) {
        size_t plain = strcspn(key, "~/");
        if (!pii_buf_append(path, key, plain))
            return false;
        if (key[plain] == '\0')
            return true;
        if (!pii_buf_append(path, key[plain] == '~' ? "~0" : "~1", 2))
            return false;
        key += plain + 1;
    }
}

static bool push_index(pii_buf *path, size_t index)
{
    char text[32];
    int n = snprintf(text, sizeof text, "/%zu", index);
    return pii_buf_append(path, text, (size_t)n);
}

/* Applies rule r to node; returns DROP when the node itself is to go. */
static outcome walk(applier *a, const pii_rule *r, cJSON *node)
{
    bool targeted = r->n_targets == 0 || is_target(r, &a->path);
    if (r->n_targets > 0 && targeted && r->action == PII_REMOVE)
        return DROP;
    if (cJSON_IsString(node)) {
        if (!targeted)
            return KEEP;
        outcome o = apply_string(a, r, node->valuestring, strlen(node->valuestring));
        if (o != REWRITTEN)
            return o;
        /* the new text is cJSON's to free: allocate it with cJSON's allocator */
        char *text = cJSON_malloc(a->out.len + 1);
        if (text == NULL)
            return fail(a, "out of memory"), FAILED;
        if (a->out.len > 0)
            memcpy(text, a->out.data, a->out.len);
        text[a->out.len] = '\0';
        cJSON_free(node->valuestring);
        node->valuestring = text;
        a->changed = true;
        return KEEP;
    }
    if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
        return KEEP;
    if (r->n_targets > 0 && !leads_to_target(r, &a->path))
        return KEEP;
    size_t mark = a->path.len, index = 0;
    bool paths = r->n_targets > 0; /* without targets no pointer is ever compared */
    cJSON *child = node->child;
    while (child != NULL) {
        cJSON *next = child->next;
        bool ok = !paths || (cJSON_IsArray(node) ? push_index(&a->path, index)
                                                 : push_key(&a->path, child->string));
        if (!ok)
            return fail(a, "out of memory"), FAILED;
        outcome o = walk(a, r, child);
        a->path.len = mark;
        if (o == FAILED)
            return FAILED;
        if (o == DROP) {
            a->changed = true;
            if (cJSON_IsObject(node)) {
                cJSON_Delete(cJSON_DetachItemViaPointer(node, child));
            } else {
                cJSON *null = cJSON_CreateNull();
                if (null == NULL || !cJSON_ReplaceItemViaPointer(node, child, null)) {
                    cJSON_Delete(null);
                    return fail(a, "out of memory"), FAILED;
                }
            }
        }
        child = next;
        index++;
    }
    return KEEP;
}

/* Applies rule r to a root node (the payload, or a member of an LLM
 * request): the path starts empty. */
static outcome walk_root(applier *a, const pii_rule *r, cJSON *node)
{
    a->path.len = 0;
    if (!pii_buf_append(&a->path, "", 0))
        return fail(a, "out of memory"), FAILED;
    return walk(a, r, node);
}

/* Replaces `old` (in parent, or the root when parent is NULL) by null. */
static bool drop_root(applier *a, cJSON **root, cJSON *parent, cJSON *old)
{
    cJSON *null = cJSON_CreateNull();
    if (null == NULL)
        return fail(a, "out of memory");
    a->changed = true;
    if (parent == NULL) {
        cJSON_Delete(*root);
        *root = null;
        return true;
    }
    if (!cJSON_ReplaceItemViaPointer(parent, old, null)) {
        cJSON_Delete(null);
        return fail(a, "out of memory");
    }
    return true;
}

static bool apply_rule(applier *a, const pii_rule *r, cJSON **root, bool llm_request)
{
    cJSON *content = llm_request ? cJSON_GetObjectItemCaseSensitive(*root, "content") : NULL;
    if (content == NULL) {
        outcome o = walk_root(a, r, *root);
        return o == DROP ? drop_root(a, root, NULL, *root) : o != FAILED;
    }
    outcome o = walk_root(a, r, content);
    if (o == FAILED || (o == DROP && !drop_root(a, root, *root, content)))
        return false;
    cJSON *headers = cJSON_GetObjectItemCaseSensitive(*root, "headers");
    if (headers == NULL || r->n_targets > 0)
        return true;
    o = walk_root(a, r, headers);
    return o == DROP ? drop_root(a, root, *root, headers) : o != FAILED;
}

/* Every string value of the tree is well-formed UTF-8. */
static bool all_utf8(const cJSON *node)
{
    if (cJSON_IsString(node))
        return pii_utf8_valid(node->valuestring, strlen(node->valuestring));
    for (const cJSON *c = node->child; c != NULL; c = c->next)
        if ((cJSON_IsArray(c) || cJSON_IsObject(c) || cJSON_IsString(c)) && !all_utf8(c))
            return false;
    return true;
}

bool pii_policy_apply(const pii_policy *p, cJSON **root, bool llm_request, pii_rules which,
                      bool *changed, char **error)
{
    applier a = {p, NULL, {0}, {0}, false, NULL};
    *changed = false;
    *error = NULL;
    pii_buf_init(&a.path);
    pii_buf_init(&a.out);
    if (p->max_pairs > 0 && (a.md = pcre2_match_data_create(p->max_pairs, NULL)) == NULL) {
        *error = strdup("out of memory");
        return false;
    }
    bool ok = all_utf8(*root) || fail(&a, "a string of the payload is not valid UTF-8");
    for (size_t i = 0; ok && i < p->n_rules; i++) {
        const pii_rule *r = &p->rules[i];
        if (which == PII_RULES_ALL || (which == PII_RULES_TARGETED) == (r->n_targets > 0))
            ok = apply_rule(&a, r, root, llm_request);
    }
    pcre2_match_data_free(a.md);
    pii_buf_free(&a.path);
    pii_buf_free(&a.out);
    *changed = a.changed;
    if (!ok)
        *error = a.error != NULL ? a.error : strdup("out of memory");
    else
        free(a.error);
    return ok;
}
