/*
 * elf_check.h -- reads a plugin library's ELF header before dlopen, so a
 * library built for another machine fails with "built for aarch64; this host
 * is x86_64" instead of glibc's "cannot open shared object file".
 */
#ifndef NR_ELF_CHECK_H
#define NR_ELF_CHECK_H

#include "nr_error.h"

/* Checks that the file at library_path (borrowed) is an ELF shared object
 * for this host's machine, word size and byte order.  On failure sets err
 * (NR_E_PLUGIN_LOAD, a sentence naming the path) and returns its status;
 * the caller annotates it with the check name ("architecture"). */
NemoRelayStatus nr_elf_check_library(const char *library_path, nr_error *err);


#endif /* NR_ELF_CHECK_H */
