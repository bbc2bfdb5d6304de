/*
 * nr_runtime.h -- process-wide runtime setup: fork handlers and the warning
 * hook through which the runtime reports non-fatal problems (a failing
 * sanitizer, a failing subscriber) to its host.
 */
#ifndef NR_RUNTIME_H
#define NR_RUNTIME_H

/* Reports one warning message (the binding turns it into a RuntimeWarning).
 * Called from any thread with no runtime lock held. */
typedef void (*nr_warn_fn)(const char *message);

/* Idempotent; installs the fork handlers. */
void nr_runtime_init(void);

/* Sets the warning hook (NULL: print to stderr). */
void nr_runtime_set_warn_hook(nr_warn_fn fn);

/* Formats and reports a warning. */
void nr_warn(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#ifndef NR_RELAY_VERSION
#define NR_RELAY_VERSION "0.5.0" /* the package version; setup.py passes it too */
#endif

/* The host's relay version ("0.5.0"); lives for the process. */
const char *nr_relay_version(void);

#endif /* NR_RUNTIME_H */
