/* loader_util.c -- helpers shared by the loader's files (see loader_util.h). */
#include "loader_util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nr_loader_error_annotate(nr_error *err, const char *reason, const char *plugin_id,
                              const char *manifest)
{
    if (err == NULL || err->kind == NR_E_NONE)
        return;
    if (reason != NULL) {
        free(err->reason);
        err->reason = nr_strdup(reason);
    }
    if (plugin_id != NULL) {
        free(err->plugin_id);
        err->plugin_id = nr_strdup(plugin_id);
    }
    if (manifest != NULL) {
        free(err->manifest);
        err->manifest = nr_strdup(manifest);
    }
}

NemoRelayStatus nr_loader_fail(nr_error *err, nr_errkind kind, const char *reason,
                               const char *plugin_id, const char *manifest, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    NemoRelayStatus st = nr_error_setv(err, kind, fmt, ap);
    va_end(ap);
    nr_loader_error_annotate(err, reason, plugin_id, manifest);
    return st;
}

char *nr_loader_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        if (n > 0)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

size_t nr_loader_utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the 2nd byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0)
                lo = 0xa0; /* no overlongs */
            if (c == 0xed)
                hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f; /* <= U+10FFFF */
        } else {
            return i;
        }
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        }
        i += n;
    }
    return len;
}

/* "invalid relay-plugin.toml: <message> (in <manifest>)"; left as it was
 * when memory runs out. */
static void name_manifest_file(nr_error *err)
{
    const char *path = err->manifest;
    size_t plen = strlen(path);
    bool json = plen >= 5 && strcmp(path + plen - 5, ".json") == 0;
    const char *label = json ? "invalid relay-plugin.json: " : "invalid relay-plugin.toml: ";
    const char *old = nr_error_message(err);
    const char *head = strncmp(old, "invalid relay-plugin.", 21) == 0 ? "" : label;
    size_t n = strlen(head) + strlen(old) + strlen(" (in )") + plen + 1;
    char *text = malloc(n);
    if (text == NULL)
        return;
    snprintf(text, n, "%s%s (in %s)", head, old, path);
    free(err->message);
    err->message = text;
}

void nr_loader_error_as_load_error(nr_error *err)
{
    if (err == NULL || err->kind == NR_E_PLUGIN_LOAD || err->kind == NR_E_NONE)
        return;
    NemoRelayStatus status = err->status;
    if (err->kind == NR_E_INVALID_CONFIG) {
        if (err->reason != NULL && strcmp(err->reason, "manifest") == 0 && err->manifest != NULL
            && strstr(nr_error_message(err), err->manifest) == NULL)
            name_manifest_file(err);
    } else {
        nr_error_prefix(err, err->kind == NR_E_NOT_FOUND        ? "not found"
                             : err->kind == NR_E_ALREADY_EXISTS ? "registration failed"
                                                                : "internal error");
    }
    err->kind = NR_E_PLUGIN_LOAD;
    err->status = status;
}
