/* loader_util.c -- helpers shared by the loader's files (see loader_util.h). */
#include "loader_util.h"

#include <stdarg.h>
#include <stdlib.h>

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
