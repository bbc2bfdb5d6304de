/* elf_check.c -- a plugin library's ELF header against this host (elf_check.h). */
#define _XOPEN_SOURCE 700 /* O_CLOEXEC */

#include "elf_check.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The machine this code was compiled for: what a library must match. */
#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#elif defined(__arm__)
#define HOST_MACHINE EM_ARM
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__powerpc__)
#define HOST_MACHINE EM_PPC
#elif defined(__s390__)
#define HOST_MACHINE EM_S390
#elif defined(__riscv)
#define HOST_MACHINE EM_RISCV
#elif defined(__mips__)
#define HOST_MACHINE EM_MIPS
#else
#define HOST_MACHINE 0 /* unknown: the machine is not compared */
#endif

#define HOST_IS64 (sizeof(void *) == 8)
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_DATA ELFDATA2MSB
#else
#define HOST_DATA ELFDATA2LSB
#endif

/* A short name for an ELF e_machine value, e.g. "aarch64"; NULL when
 * unknown.  is64 picks between 32- and 64-bit names of one machine. */
static const char *elf_machine_name(unsigned machine, int is64)
{
    switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_AARCH64: return "aarch64";
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_PPC64: return "ppc64";
    case EM_PPC: return "ppc";
    case EM_S390: return is64 ? "s390x" : "s390";
    case EM_RISCV: return is64 ? "riscv64" : "riscv32";
    case EM_MIPS: return is64 ? "mips64" : "mips";
    case EM_SPARCV9: return "sparc64";
    case 258: return "loongarch64"; /* EM_LOONGARCH, missing from older elf.h */
    default: return NULL;
    }
}

/* "aarch64" or "machine 1234" into buf. */
static const char *machine_text(unsigned machine, int is64, char *buf, size_t size)
{
    const char *name = elf_machine_name(machine, is64);
    if (name != NULL)
        return name;
    snprintf(buf, size, "ELF machine %u", machine);
    return buf;
}

NemoRelayStatus nr_elf_check_library(const char *library_path, nr_error *err)
{
    unsigned char h[20];
    ssize_t got = 0;
    int fd = open(library_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (got < (ssize_t)sizeof h) {
            ssize_t n = read(fd, h + got, sizeof h - (size_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += n;
        }
        close(fd);
    } else {
        return nr_error_set(err, NR_E_PLUGIN_LOAD, "failed to read native plugin library '%s': %s",
                            library_path, strerror(errno));
    }
    if (got < (ssize_t)sizeof h || memcmp(h, ELFMAG, SELFMAG) != 0)
        return nr_error_set(err, NR_E_PLUGIN_LOAD,
                            "native plugin library '%s' is not an ELF shared library (no ELF header); "
                            "build it with `cc -shared -fPIC`", library_path);
    int is64 = h[EI_CLASS] == ELFCLASS64;
    unsigned type, machine;
    if (h[EI_DATA] == ELFDATA2MSB) {
        type = (unsigned)h[16] << 8 | h[17];
        machine = (unsigned)h[18] << 8 | h[19];
    } else {
        type = (unsigned)h[17] << 8 | h[16];
        machine = (unsigned)h[19] << 8 | h[18];
    }
    char theirs[32], ours[32];
    const char *their_name = machine_text(machine, is64, theirs, sizeof theirs);
    const char *our_name = machine_text(HOST_MACHINE, HOST_IS64, ours, sizeof ours);
    if (HOST_MACHINE != 0 && machine != HOST_MACHINE)
        return nr_error_set(err, NR_E_PLUGIN_LOAD,
                            "native plugin library '%s' was built for %s; this host is %s", library_path,
                            their_name, our_name);
    if ((h[EI_CLASS] == ELFCLASS64) != HOST_IS64)
        return nr_error_set(err, NR_E_PLUGIN_LOAD,
                            "native plugin library '%s' was built for %s-bit %s; this host is %s-bit",
                            library_path, is64 ? "64" : "32", their_name, HOST_IS64 ? "64" : "32");
    if (h[EI_DATA] != HOST_DATA)
        return nr_error_set(err, NR_E_PLUGIN_LOAD,
                            "native plugin library '%s' was built %s-endian; this host is %s-endian",
                            library_path, h[EI_DATA] == ELFDATA2MSB ? "big" : "little",
                            HOST_DATA == ELFDATA2MSB ? "big" : "little");
    if (type != ET_DYN)
        return nr_error_set(err, NR_E_PLUGIN_LOAD,
                            "native plugin library '%s' is %s, not a shared library; link it with "
                            "`cc -shared -fPIC`",
                            library_path, type == ET_REL ? "an object file" : type == ET_EXEC ? "an executable"
                                                                                             : "an ELF file of another type");
    return NEMO_RELAY_STATUS_OK;
}
