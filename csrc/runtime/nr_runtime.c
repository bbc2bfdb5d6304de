/* nr_runtime.c -- fork handlers, warnings, version. */
#include "nr_runtime.h"

#include "nr_clock.h"
#include "nr_plugin.h"
#include "nr_registry.h"
#include "nr_stack.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
/* Set once by the binding at import; read by any thread. */
static _Atomic(nr_warn_fn) g_warn_hook;

const char *nr_relay_version(void)
{
    return NR_RELAY_VERSION;
}

/* Fork: take every global lock before fork() so that the child never starts
 * with one held by a thread that does not exist there (SPEC D10). */
static void fork_prepare(void)
{
    nr_plugin_fork_prepare();
    nr_registry_fork_prepare();
    nr_stack_fork_prepare();
}

static void fork_parent(void)
{
    nr_stack_fork_parent();
    nr_registry_fork_parent();
    nr_plugin_fork_parent();
}

static void fork_child(void)
{
    nr_stack_fork_child();
    nr_registry_fork_child();
    nr_plugin_fork_child();
    nr_clock_after_fork_child();
}

static void init_once(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void nr_runtime_init(void)
{
    pthread_once(&g_init_once, init_once);
}

void nr_runtime_set_warn_hook(nr_warn_fn fn)
{
    atomic_store(&g_warn_hook, fn);
}

void nr_warn(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    nr_warn_fn hook = atomic_load(&g_warn_hook);
    if (hook != NULL)
        hook(buf);
    else
        fprintf(stderr, "nemo_relay warning: %s\n", buf);
}
