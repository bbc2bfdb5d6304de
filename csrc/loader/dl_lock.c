/* dl_lock.c -- dlopen/dlclose of plugin libraries, exclusive with fork(). */
#include "dl_lock.h"

#include <dlfcn.h>
#include <pthread.h>

static pthread_mutex_t g_dl_lock;
static pthread_once_t g_dl_once = PTHREAD_ONCE_INIT;

/* Recursive: a library's destructor may end up closing another plugin. */
static void lock_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_dl_lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

static void fork_prepare(void) { pthread_mutex_lock(&g_dl_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&g_dl_lock); }
/* The child's only thread is the one that forked; a fresh lock, because a
 * recursive mutex remembers its owner's thread id, which changed. */
static void fork_child(void) { lock_init(); }

/* Registered lazily, after the runtime's handlers, so a fork takes this lock
 * before any runtime lock.  That order is relied on: the loader never holds
 * a runtime lock around dlopen/dlclose, while a thread inside dlopen (or
 * under a sanitizer's fork interceptor) may still need other locks; taking
 * this lock last instead was seen to hang the fork test under ASan. */
static void init_once(void)
{
    lock_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void *nr_dl_open(const char *path, int flags)
{
    pthread_once(&g_dl_once, init_once);
    pthread_mutex_lock(&g_dl_lock);
    void *handle = dlopen(path, flags);
    pthread_mutex_unlock(&g_dl_lock);
    return handle;
}

int nr_dl_close(void *handle)
{
    pthread_once(&g_dl_once, init_once);
    pthread_mutex_lock(&g_dl_lock);
    int rc = dlclose(handle);
    pthread_mutex_unlock(&g_dl_lock);
    return rc;
}
