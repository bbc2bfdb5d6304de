/*
 * atof_file.c -- the bundled "atof_file" native plugin.
 *
 * A subscriber that appends every event (ATOF 0.1 JSON, as the host delivers
 * it) to a file as one JSON line (JSON Lines: one object, then "\n").
 *
 * Config (one component per file; several components are allowed):
 *   path         string, required.  Relative paths are resolved against the
 *                working directory when the configuration is registered.
 *   mode         "append" (default) or "overwrite".  overwrite truncates the
 *                file once, when the configuration is registered (so again on
 *                every new plugin.initialize of a configuration holding it).
 *   flush_every  integer >= 1, default 64.  Lines are buffered in memory and
 *                written with one write(2) once the buffer holds flush_every
 *                events (or 1 MiB, whichever comes first).
 *
 * When data reaches the file (write(2); there is no fsync):
 *   - every flush_every events;
 *   - when the configuration is cleared (plugin.clear(), leaving
 *     `async with plugin.plugin(...)` / initialize_with_dynamic_plugins, a new
 *     initialize): the subscriber's free_fn flushes and closes the file;
 *   - on demand: nemo_relay.subscribers.flush() calls this library's
 *     nemo_relay_native_subscriber_flush_v1 export (a nemo_relay extension
 *     of ABI v1; hosts that do not know it simply never call it).
 *
 * Validation returns diagnostics [{level, code, message, component, field}]:
 * errors atof_file.missing_path, atof_file.invalid_path,
 * atof_file.invalid_mode, atof_file.invalid_flush_every and
 * atof_file.open_failed (the file cannot be opened for writing; the message
 * names the path and the OS error); warning atof_file.unknown_field.
 * Validation opens the file without truncating it (O_APPEND) and removes it
 * again if it did not exist, so a validate has no lasting effect.
 *
 * Threading: the subscriber may be called from many threads at once.  Lines
 * are appended to the buffer and the buffer is written under one mutex, so
 * every line is one whole event and lines are never interleaved; the file is
 * opened with O_APPEND, so several components (or processes) appending to the
 * same file interleave only whole buffers.
 *
 * Errors while writing cannot reach the emitter (subscriber statuses are
 * ignored): the buffered lines are dropped, the subscriber returns INTERNAL
 * and the message is left in the host's last error.
 *
 * Depends only on the ABI header, plugins/common/plugin_support.h, cJSON,
 * libc (POSIX) and pthreads.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "plugin_support.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define AF_KIND "atof_file"
#define AF_OK NEMO_RELAY_STATUS_OK
#define AF_DEFAULT_FLUSH_EVERY 64
#define AF_MAX_BUFFER_BYTES ((size_t)1 << 20)

NEMO_RELAY_PLUGIN_EXPORT NemoRelayStatus nemo_relay_atof_file_plugin(const HostApi *host,
                                                                     NemoRelayNativePluginV1 *out);

static const char *const af_known_fields[] = {"path", "mode", "flush_every"};

/* ======================================================================== */
/* Small helpers                                                            */
/* ======================================================================== */

/* The text of an errno value, thread-safely (GNU and POSIX strerror_r). */
static void af_errno_text(int err, char *buf, size_t len)
{
#if defined(_GNU_SOURCE) && defined(__GLIBC__)
    const char *text = strerror_r(err, buf, len);
    if (text != buf) {
        snprintf(buf, len, "%s", text);
    }
#else
    if (strerror_r(err, buf, len) != 0) {
        snprintf(buf, len, "error %d", err);
    }
#endif
}

/* ======================================================================== */
/* Config checking (shared by validate and register)                        */
/* ======================================================================== */

typedef struct AfSettings {
    const char *path; /* borrowed from the parsed config */
    bool overwrite;
    size_t flush_every;
} AfSettings;

/* Checks every field; *out is only meaningful when check->errors is 0. */
static void af_check_config(PsCheck *check, const cJSON *config, AfSettings *out)
{
    out->path = NULL;
    out->overwrite = false;

    ps_warn_unknown_fields(check, config, "atof_file.unknown_field", af_known_fields,
                           PS_COUNT(af_known_fields));

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, "path");
    if (v == NULL || cJSON_IsNull(v)) {
        ps_diag(check, true, "atof_file.missing_path", "path",
                AF_KIND ": path is required (the file that receives one JSON line per event)");
    } else if (!cJSON_IsString(v) || v->valuestring == NULL) {
        ps_diag(check, true, "atof_file.invalid_path", "path",
                AF_KIND ": path must be a string, not %s", ps_type_name(v));
    } else if (v->valuestring[0] == '\0') {
        ps_diag(check, true, "atof_file.invalid_path", "path", AF_KIND ": path must not be empty");
    } else {
        out->path = v->valuestring;
    }

    v = cJSON_GetObjectItemCaseSensitive(config, "mode");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (cJSON_IsString(v) && v->valuestring != NULL && strcmp(v->valuestring, "append") == 0) {
            out->overwrite = false;
        } else if (cJSON_IsString(v) && v->valuestring != NULL &&
                   strcmp(v->valuestring, "overwrite") == 0) {
            out->overwrite = true;
        } else if (cJSON_IsString(v) && v->valuestring != NULL) {
            ps_diag(check, true, "atof_file.invalid_mode", "mode",
                    AF_KIND ": mode must be \"append\" or \"overwrite\", not \"%s\"", v->valuestring);
        } else {
            ps_diag(check, true, "atof_file.invalid_mode", "mode",
                    AF_KIND ": mode must be \"append\" or \"overwrite\", not %s", ps_type_name(v));
        }
    }

    int32_t flush_every = AF_DEFAULT_FLUSH_EVERY;
    ps_check_int(check, config, "flush_every", "atof_file.invalid_flush_every", 1, INT32_MAX,
                 &flush_every);
    out->flush_every = (size_t)flush_every;
}

/* ======================================================================== */
/* Files                                                                    */
/* ======================================================================== */

/* Opens path for appending (truncating when asked); -1 with errno set on
 * failure.  O_NONBLOCK only for the open itself, so a FIFO without a reader
 * fails (ENXIO) instead of blocking the configuration. */
static int af_open(const char *path, int extra_flags)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra_flags, 0666);
    if (fd < 0) {
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Can path be opened for writing?  Never truncates, and removes the file
 * again if this probe created it.  0, or an errno value. */
static int af_probe(const char *path)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = af_open(path, 0);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (errno != ENOENT) {
            return errno;
        }
        fd = af_open(path, O_CREAT | O_EXCL);
        if (fd >= 0) {
            close(fd);
            unlink(path);
            return 0;
        }
        if (errno != EEXIST) { /* EEXIST: created meanwhile; probe it again */
            return errno;
        }
    }
    return EEXIST;
}

/* ======================================================================== */
/* The sink: one file, its buffer and its lock                              */
/* ======================================================================== */

typedef struct AfSink {
    const HostApi *host;
    pthread_mutex_t lock;
    int fd;
    char *path;
    char *buf;
    size_t len;
    size_t cap;
    size_t pending; /* events in buf */
    size_t flush_every;
} AfSink;

/* Writes out the whole buffer.  Called with the lock held.  On failure the
 * buffered lines are dropped and the errno value is returned (0 on success). */
static int af_flush_locked(AfSink *s)
{
    size_t done = 0;
    int err = 0;
    while (done < s->len) {
        ssize_t n = write(s->fd, s->buf + done, s->len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = errno;
            break;
        }
        if (n == 0) {
            err = EIO;
            break;
        }
        done += (size_t)n;
    }
    s->len = 0;
    s->pending = 0;
    return err;
}

/* Appends bytes + "\n" to the buffer.  Called with the lock held.  False when
 * out of memory. */
static bool af_append_locked(AfSink *s, const char *data, size_t len)
{
    if (len > SIZE_MAX - 1 - s->len) {
        return false;
    }
    size_t need = s->len + len + 1;
    if (need > s->cap) {
        size_t cap = s->cap > 0 ? s->cap : 4096;
        while (cap < need) {
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        }
        char *grown = realloc(s->buf, cap);
        if (grown == NULL) {
            return false;
        }
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len++] = '\n';
    return true;
}

/* Flushes what is buffered and closes the file (the registration's free_fn,
 * and the cleanup of a failed registration). */
static void af_sink_free(void *user_data)
{
    AfSink *s = user_data;
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (s->fd >= 0) {
        (void)af_flush_locked(s); /* nobody is left to tell about a failure */
        close(s->fd);
        s->fd = -1;
    }
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_destroy(&s->lock);
    free(s->buf);
    free(s->path);
    free(s);
}

/* The subscriber.  event_json is borrowed. */
static NemoRelayStatus af_on_event(void *user_data, const HostString *event_json)
{
    AfSink *s = user_data;
    if (s == NULL) {
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    const HostApi *host = s->host;
    const char *data = (const char *)host->string_data(event_json);
    size_t len = host->string_len(event_json);
    if (data == NULL || len == 0) {
        return ps_fail(host, NEMO_RELAY_STATUS_INVALID_JSON, AF_KIND ": empty event");
    }
    /* A line must hold exactly one event: re-print an event that contains
     * line breaks (only possible as whitespace between JSON tokens). */
    char *compact = NULL;
    if (memchr(data, '\n', len) != NULL || memchr(data, '\r', len) != NULL) {
        cJSON *event = ps_parse_bytes(data, len);
        if (event == NULL) {
            return ps_fail(host, NEMO_RELAY_STATUS_INVALID_JSON, AF_KIND ": event is not valid JSON");
        }
        compact = ej_print(event); /* numbers exact (exact_json.h) */
        cJSON_Delete(event);
        if (compact == NULL) {
            return ps_oom(host, AF_KIND);
        }
        data = compact;
        len = strlen(compact);
    }

    int err = 0;
    bool oom = false;
    pthread_mutex_lock(&s->lock);
    if (af_append_locked(s, data, len)) {
        s->pending++;
        if (s->pending >= s->flush_every || s->len >= AF_MAX_BUFFER_BYTES) {
            err = af_flush_locked(s);
        }
    } else {
        /* no memory for the buffer: write what is buffered, then this line */
        oom = true;
        err = af_flush_locked(s);
        if (err == 0 && af_append_locked(s, data, len)) {
            oom = false;
            s->pending++;
            err = af_flush_locked(s);
        }
    }
    char *message = NULL;
    if (err != 0) {
        char reason[256];
        af_errno_text(err, reason, sizeof reason);
        message = ps_format(AF_KIND ": writing to '%s' failed: %s (buffered events dropped)",
                            s->path, reason);
    }
    pthread_mutex_unlock(&s->lock);
    cJSON_free(compact);
    if (err != 0) {
        NemoRelayStatus status = message != NULL
                                     ? ps_fail(host, NEMO_RELAY_STATUS_INTERNAL, message)
                                     : ps_oom(host, AF_KIND);
        free(message);
        return status;
    }
    return oom ? ps_oom(host, AF_KIND) : AF_OK;
}

/* subscribers.flush(): write out what this sink holds.  A write error drops
 * the buffered lines as in af_sink_free; this hook has no way to report it. */
NEMO_RELAY_PLUGIN_EXPORT void nemo_relay_native_subscriber_flush_v1(void *user_data)
{
    AfSink *s = user_data;
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (s->fd >= 0) {
        (void)af_flush_locked(s);
    }
    pthread_mutex_unlock(&s->lock);
}

/* ======================================================================== */
/* The plugin descriptor                                                    */
/* ======================================================================== */

/* Validate's pass over a config: the checks, then whether the file can be
 * opened for writing (without truncating or leaving it behind). */
static void af_validate_config(PsCheck *check, const cJSON *config)
{
    AfSettings settings;
    af_check_config(check, config, &settings);
    if (check->errors == 0 && settings.path != NULL) {
        int err = af_probe(settings.path);
        if (err != 0) {
            char reason[256];
            af_errno_text(err, reason, sizeof reason);
            ps_diag(check, true, "atof_file.open_failed", "path",
                    AF_KIND ": cannot open '%s' for writing: %s", settings.path, reason);
        }
    }
}

/* A sink for settings with the file opened (and truncated in overwrite mode);
 * NULL with the host's last error set on failure. */
static AfSink *af_sink_open(const HostApi *host, const AfSettings *settings, NemoRelayStatus *status)
{
    AfSink *s = calloc(1, sizeof *s);
    char *path = ps_strdup(settings->path);
    if (s == NULL || path == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
        free(path);
        free(s);
        *status = ps_oom(host, AF_KIND);
        return NULL;
    }
    s->host = host;
    s->path = path;
    s->flush_every = settings->flush_every;
    s->fd = af_open(path, O_CREAT | (settings->overwrite ? O_TRUNC : 0));
    if (s->fd < 0) {
        char reason[256];
        af_errno_text(errno, reason, sizeof reason);
        char *message = ps_format(AF_KIND ": cannot open '%s' for writing: %s", path, reason);
        *status = message != NULL ? ps_fail(host, NEMO_RELAY_STATUS_INTERNAL, message)
                                  : ps_oom(host, AF_KIND);
        free(message);
        af_sink_free(s);
        return NULL;
    }
    *status = AF_OK;
    return s;
}

static NemoRelayStatus af_plugin_register(void *user_data, const HostString *plugin_config_json,
                                          PluginContext *ctx)
{
    const PsPlugin *plugin = user_data;
    if (plugin == NULL || ctx == NULL) {
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    const HostApi *host = plugin->host;
    cJSON *config = NULL;
    NemoRelayStatus status = ps_parse_config(host, AF_KIND, plugin_config_json, &config);
    if (status != AF_OK) {
        return status;
    }
    PsCheck check = {AF_KIND, NULL, 0, false, NULL};
    AfSettings settings;
    af_check_config(&check, config, &settings);
    AfSink *sink = NULL;
    if (check.errors > 0) {
        /* register is only called after a clean validate; be defensive */
        status = ps_fail(host, NEMO_RELAY_STATUS_INVALID_ARG,
                         check.first_error != NULL ? check.first_error : AF_KIND ": invalid config");
    } else if (check.oom) {
        status = ps_oom(host, AF_KIND);
    } else {
        sink = af_sink_open(host, &settings, &status);
    }
    free(check.first_error);
    cJSON_Delete(config); /* settings.path pointed into it; the sink has a copy */
    if (sink == NULL) {
        return status;
    }
    HostString *name = NULL;
    status = ps_text(host, "atof_file_subscriber", &name);
    if (status == AF_OK) {
        status = host->plugin_context_register_subscriber(ctx, name, af_on_event, sink, af_sink_free);
    }
    host->string_free(name);
    if (status != AF_OK) {
        af_sink_free(sink); /* a failed registration has taken nothing */
    }
    return status;
}

NEMO_RELAY_PLUGIN_EXPORT NemoRelayStatus nemo_relay_atof_file_plugin(const HostApi *host,
                                                                     NemoRelayNativePluginV1 *out)
{
    return ps_describe(host, out, AF_KIND, af_validate_config, af_plugin_register);
}
