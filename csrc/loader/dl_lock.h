/*
 * dl_lock.h -- the loader's dlopen/dlclose, exclusive with fork().
 *
 * A fork() while another thread is inside dlopen or dlclose gives the child
 * a dynamic linker caught halfway (glibc aborts with "r_state ==
 * RT_CONSISTENT" or hangs).  Every dlopen/dlclose of a plugin library goes
 * through these wrappers, which hold one lock around the call; fork handlers
 * take the same lock, so a fork waits for the call to finish and no call
 * starts while a fork is under way.
 */
#ifndef NR_DL_LOCK_H
#define NR_DL_LOCK_H

/* dlopen(path, flags) under the lock.  The handle is the caller's (close it
 * with nr_dl_close); dlerror() afterwards reads this call's error. */
void *nr_dl_open(const char *path, int flags);

/* dlclose(handle) under the lock. */
int nr_dl_close(void *handle);

#endif /* NR_DL_LOCK_H */
