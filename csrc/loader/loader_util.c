/* loader_util.c -- helpers shared by the loader's files (see loader_util.h). */
#include "loader_util.h"

#include <stdarg.h>
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
