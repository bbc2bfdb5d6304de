/*
 * native_loader.c -- from manifests to loaded plugin instances (reference
 * §2.3, SPEC D9), activations, and teardown (SPEC D8).
 *
 * Checks run in upstream's order; the first failure wins and everything done
 * so far is undone in reverse.  A multi-plugin load rolls back completely.
 */
#include "native_loader.h"

#include "dl_lock.h"
#include "elf_check.h"
#include "loader_util.h"
#include "manifest.h"
#include "native.h"
#include "nr_runtime.h"

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#define DESCRIPTOR_V1_SIZE 56u

/* ---- instances ---------------------------------------------------------------- */

static void owner_retain(nr_owner *o)
{
    nr_native_instance_retain((nr_native_instance *)o);
}

static void owner_release(nr_owner *o)
{
    nr_native_instance_release((nr_native_instance *)o);
}

void nr_native_instance_retain(nr_native_instance *inst)
{
    if (inst != NULL)
        nr_ref_inc(&inst->refs);
}

/* Descriptor teardown: drop(user_data), then the kind string (R2, R10). */
static void descriptor_teardown(NemoRelayNativePluginV1 *desc)
{
    if (desc->drop != NULL)
        desc->drop(desc->user_data);
    desc->user_data = NULL;
    desc->drop = NULL;
    nr_native_string_free(desc->plugin_kind); /* only if it is an owned host string */
    desc->plugin_kind = NULL;
}

/* Last reference gone: nothing can call into the library any more. */
void nr_native_instance_release(nr_native_instance *inst)
{
    if (inst == NULL || !nr_ref_dec(&inst->refs))
        return;
    descriptor_teardown(&inst->desc);
    if (inst->library != NULL)
        nr_dl_close(inst->library);
    free(inst->kind);
    free(inst->library_path);
    free(inst);
}

/* ---- loading one plugin ---------------------------------------------------------- */

/* dlsym(library, name), taken only when the library itself defines it: dlsym
 * also searches the library's dependencies, where the name could be libc's
 * getpid or another plugin's data.  NULL when absent (dlerror() says why) or
 * defined elsewhere; then *elsewhere (if given) names that object (borrowed:
 * valid while library stays open). */
static void *own_symbol(void *library, const char *name, const char **elsewhere)
{
    if (elsewhere != NULL)
        *elsewhere = NULL;
    dlerror();
    void *sym = dlsym(library, name);
    if (sym == NULL)
        return NULL;
    struct link_map *own = NULL, *at = NULL;
    Dl_info info;
    memset(&info, 0, sizeof info);
    if (dlinfo(library, RTLD_DI_LINKMAP, &own) != 0 ||
        dladdr1(sym, &info, (void **)&at, RTLD_DL_LINKMAP) == 0 || at == NULL || at != own) {
        dlerror(); /* not a lookup failure: a definition in the wrong object */
        if (elsewhere != NULL)
            *elsewhere = info.dli_fname != NULL ? info.dli_fname : "another object";
        return NULL;
    }
    return sym;
}

/* Reads the descriptor's _Bool without trusting its bit pattern (R22). */
static bool read_bool(const bool *field)
{
    unsigned char byte;
    memcpy(&byte, field, 1);
    return byte != 0;
}

static NemoRelayStatus load_one(const nr_native_spec *spec, nr_native_instance **out,
                                nr_error *err)
{
    *out = NULL;
    const char *pid = spec->plugin_id, *manifest = spec->manifest_path; /* for errors */
    nr_manifest m;
    memset(&m, 0, sizeof m);
    char *text = NULL, *library_path = NULL;
    size_t len = 0;
    void *library = NULL;
    NemoRelayStatus st;

    /* steps 4-6: the manifest (TOML arrives as JSON from the binding) */
    if (spec->manifest_json != NULL) {
        st = nr_manifest_parse_json(spec->manifest_json, spec->manifest_json_len,
                                    spec->manifest_path, &m, err);
    } else {
        st = nr_manifest_read_file(spec->manifest_path, &text, &len, err);
        if (st == NEMO_RELAY_STATUS_OK)
            st = nr_manifest_parse_json(text, len, spec->manifest_path, &m, err);
    }
    if (st != NEMO_RELAY_STATUS_OK) {
        /* the error is about the plugin the caller asked for */
        nr_loader_error_annotate(err, NULL, pid, NULL);
        goto fail;
    }

    /* steps 7-15: id, kind, relay, native_api, library, sha256, permissions */
    nr_manifest_check_opts opts = {spec->plugin_id, nr_relay_version(), spec->trust_writable, true};
    if ((st = nr_manifest_check(&m, spec->manifest_path, &opts, &library_path, err)) !=
        NEMO_RELAY_STATUS_OK)
        goto fail;

    /* the ELF header first: a library for another machine is named as such
     * rather than failing in dlopen as "cannot open shared object file" */
    if ((st = nr_elf_check_library(library_path, err)) != NEMO_RELAY_STATUS_OK) {
        nr_loader_error_annotate(err, "architecture", pid, manifest);
        goto fail;
    }

    /* step 16: dlopen with every symbol resolved now, kept out of the global
     * namespace */
    dlerror();
    library = nr_dl_open(library_path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *why = dlerror();
        st = nr_loader_fail(err, NR_E_PLUGIN_LOAD, "dlopen", pid, manifest,
                            "failed to load native plugin library '%s': %s", library_path,
                            why != NULL ? why : "unknown error");
        goto fail;
    }

    /* step 17: the entry symbol, defined in the library itself */
    const char *elsewhere = NULL;
    void *sym = own_symbol(library, m.load.symbol, &elsewhere);
    if (sym == NULL) {
        const char *why = dlerror();
        if (elsewhere != NULL)
            st = nr_loader_fail(err, NR_E_PLUGIN_LOAD, "symbol", pid, manifest,
                                "native plugin symbol '%s' not found in '%s': it is defined in "
                                "'%s', a library it depends on, not in the plugin itself",
                                m.load.symbol, library_path, elsewhere);
        else
            st = nr_loader_fail(err, NR_E_PLUGIN_LOAD, "symbol", pid, manifest,
                                "native plugin symbol '%s' not found in '%s': %s", m.load.symbol,
                                library_path, why != NULL ? why : "null symbol");
        goto fail;
    }
    NemoRelayNativePluginEntry entry;
    memcpy(&entry, &sym, sizeof entry);

    /* step 18: the entry call, with a clean last error (R20) */
    NemoRelayNativePluginV1 desc = {DESCRIPTOR_V1_SIZE, NULL, true, NULL, NULL, NULL, NULL};
    nr_native_last_error_clear();
    NemoRelayStatus est = entry(nr_native_host_api(), &desc);
    if (est != NEMO_RELAY_STATUS_OK) {
        nr_error why = NR_ERROR_INIT; /* the last error, else the status name */
        nr_native_failure(est, NR_E_PLUGIN_LOAD, &why, "%s", nr_status_name(est));
        st = nr_loader_fail(err, NR_E_PLUGIN_LOAD, "entry", pid, manifest,
                            "native plugin entry symbol '%s' failed: %s", m.load.symbol,
                            nr_error_message(&why));
        nr_error_clear(&why);
        descriptor_teardown(&desc);
        goto fail;
    }

    /* step 19: the descriptor */
    const char *problem = NULL;
    char buf[96];
    if (desc.struct_size < DESCRIPTOR_V1_SIZE) {
        snprintf(buf, sizeof buf, "incompatible plugin descriptor size %zu", desc.struct_size);
        problem = buf;
    } else if (desc.plugin_kind == NULL) {
        problem = "a null plugin_kind";
    } else if (!nr_native_string_owned(desc.plugin_kind)) {
        problem = "a plugin_kind that was not made by the host's string_new";
    } else if (nr_native_string_has_nul(desc.plugin_kind)) {
        problem = "a plugin_kind containing a NUL byte";
    } else if (desc.register_ == NULL) {
        problem = "no register callback";
    }
    if (problem != NULL) {
        st = nr_loader_fail(err, NR_E_PLUGIN_LOAD, "descriptor", pid, manifest,
                            "native plugin '%s' returned %s", pid, problem);
        descriptor_teardown(&desc);
        goto fail;
    }

    /* step 20: the kind it reports must be the manifest id, exactly */
    char *kind = nr_native_string_dup(desc.plugin_kind);
    if (kind == NULL || strcmp(kind, spec->plugin_id) != 0) {
        st = kind == NULL ? nr_error_nomem(err)
                          : nr_loader_fail(err, NR_E_PLUGIN_LOAD, "kind", pid, manifest,
                                           "native plugin returned kind '%s' but manifest id is '%s'",
                                           kind, pid);
        free(kind);
        descriptor_teardown(&desc);
        goto fail;
    }

    /* step 21: the instance */
    nr_native_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        free(kind);
        descriptor_teardown(&desc);
        st = nr_error_nomem(err);
        goto fail;
    }
    inst->owner.retain = owner_retain;
    inst->owner.release = owner_release;
    nr_ref_init(&inst->refs);
    inst->library = library;
    inst->desc = desc;
    inst->desc.allows_multiple_components = read_bool(&desc.allows_multiple_components);
    inst->kind = kind;
    inst->library_path = library_path;
    /* An optional nemo_relay extension; its absence is not an error. */
    void *flush_sym = own_symbol(library, NEMO_RELAY_NATIVE_SUBSCRIBER_FLUSH_SYMBOL, NULL);
    if (flush_sym != NULL)
        memcpy(&inst->subscriber_flush, &flush_sym, sizeof inst->subscriber_flush);
    dlerror();
    nr_manifest_clear(&m);
    free(text);
    *out = inst;
    return NEMO_RELAY_STATUS_OK;

fail:
    if (library != NULL)
        nr_dl_close(library);
    nr_manifest_clear(&m);
    free(text);
    free(library_path);
    return st;
}

/* ---- activations -------------------------------------------------------------------- */

struct nr_native_activation {
    nr_native_instance **instances; /* strong */
    size_t n;
};

size_t nr_native_activation_count(const nr_native_activation *a)
{
    return a != NULL ? a->n : 0;
}

const char *nr_native_activation_kind(const nr_native_activation *a, size_t i)
{
    return i < a->n ? a->instances[i]->kind : NULL;
}

const char *nr_native_activation_library(const nr_native_activation *a, size_t i)
{
    return i < a->n ? a->instances[i]->library_path : NULL;
}

bool nr_native_activation_allows_multiple(const nr_native_activation *a, size_t i)
{
    return i < a->n && a->instances[i]->desc.allows_multiple_components;
}

void nr_native_activation_close(nr_native_activation *a)
{
    if (a == NULL)
        return;
    /* kinds go first, newest first; then our references (R3, R15) */
    for (size_t i = a->n; i-- > 0;)
        nr_plugin_deregister_kind_of(a->instances[i]->kind, a->instances[i]);
    for (size_t i = a->n; i-- > 0;)
        nr_native_instance_release(a->instances[i]);
    free(a->instances);
    free(a);
}

NemoRelayStatus nr_native_load(const nr_native_spec *specs, size_t n, nr_native_activation **out,
                               nr_error *err)
{
    *out = NULL;
    nr_native_activation *a = calloc(1, sizeof *a);
    if (a == NULL || (a->instances = calloc(n + 1, sizeof *a->instances)) == NULL) {
        free(a);
        return nr_error_nomem(err);
    }
    for (size_t i = 0; i < n; i++) {
        nr_native_instance *inst = NULL;
        NemoRelayStatus st = load_one(&specs[i], &inst, err);
        if (st == NEMO_RELAY_STATUS_OK) {
            /* the registry's reference to the instance */
            nr_native_instance_retain(inst);
            st = nr_plugin_register_kind(inst->kind, inst->desc.allows_multiple_components,
                                         &nr_native_plugin_ops, inst, err);
            if (st != NEMO_RELAY_STATUS_OK) {
                nr_native_instance_release(inst); /* the registry took nothing */
                nr_loader_error_annotate(err, "kind", specs[i].plugin_id, specs[i].manifest_path);
            }
        }
        if (st != NEMO_RELAY_STATUS_OK) {
            nr_loader_error_as_load_error(err);
            nr_native_instance_release(inst);
            nr_native_activation_close(a); /* everything loaded so far, in reverse */
            return st;
        }
        a->instances[a->n++] = inst;
    }
    *out = a;
    return NEMO_RELAY_STATUS_OK;
}
