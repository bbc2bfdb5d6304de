/* test_manifest.c -- manifest decode/validation (§2.3 steps 5-6), resolution
 * and reading (steps 1-4), and the loader checks (steps 7-15 + SPEC D9),
 * against temporary directories made with mkdtemp. */
#define _XOPEN_SOURCE 700 /* mkdtemp, symlink, nftw, realpath */

#include "nr_test.h"

#include "manifest.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define HOST_VERSION "0.5.0"
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static const char base_manifest_json[] =
    "{"
    "\"manifest_version\": 1,"
    "\"description\": \"a test plugin\","
    "\"plugin\": {\"id\": \"fixture\", \"kind\": \"rust_dynamic\", \"name\": \"Fixture\","
    "             \"version\": \"0.1.0\"},"
    "\"compat\": {\"relay\": \">=0.5\", \"native_api\": \"1\"},"
    "\"defaults\": {\"enabled\": false},"
    "\"capabilities\": {\"items\": [\"plugin_native\"]},"
    "\"load\": {\"library\": \"libfixture.so\", \"symbol\": \"nemo_relay_plugin_entry\"},"
    "\"source\": {\"manifest_root\": \".\", \"artifact\": \"libfixture.so\"},"
    "\"integrity\": {\"signature\": \"fixture.sig\"}"
    "}";

/* ---- temp-dir fixture --------------------------------------------------- */

typedef struct fx {
    char root[64];
} fx;

static bool fx_init(fx *f)
{
    snprintf(f->root, sizeof f->root, "/tmp/nr_manifest_test.XXXXXX");
    return mkdtemp(f->root) != NULL;
}

static int fx_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        return rmdir(path) == 0 ? 0 : 0;
    return unlink(path) == 0 ? 0 : 0;
}

static void fx_done(fx *f)
{
    chmod(f->root, 0700);
    nftw(f->root, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* out = root + "/" + rel */
static void fx_path(const fx *f, const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", f->root, rel);
}

static bool write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return false;
    bool ok = write(fd, data, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    return chmod(path, mode) == 0 && ok;
}

/* ---- manifest JSON builders --------------------------------------------- */

static cJSON *base_manifest(void)
{
    return cJSON_ParseWithLength(base_manifest_json, sizeof base_manifest_json - 1);
}

/* Sets root[section][key] (section NULL = top level) to the JSON value text,
 * or deletes the key when value_json is NULL. */
static void set_json(cJSON *root, const char *section, const char *key, const char *value_json)
{
    cJSON *target = section != NULL ? cJSON_GetObjectItemCaseSensitive(root, section) : root;
    if (target == NULL)
        return;
    if (value_json == NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(target, key);
        return;
    }
    cJSON *value = cJSON_ParseWithLength(value_json, strlen(value_json));
    if (value == NULL) {
        fprintf(stderr, "bad test JSON: %s\n", value_json);
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(target, key) != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(target, key, value);
    else
        cJSON_AddItemToObject(target, key, value);
}

static NemoRelayStatus parse_obj(const cJSON *root, const char *display, nr_manifest *m, nr_error *err)
{
    char *text = cJSON_PrintUnformatted(root);
    NemoRelayStatus st = nr_manifest_parse_json(text, strlen(text), display, m, err);
    cJSON_free(text);
    return st;
}

typedef struct mutation {
    const char *section;    /* NULL: top level */
    const char *key;        /* NULL: end of list */
    const char *value_json; /* NULL: delete */
} mutation;

typedef struct rule_case {
    mutation muts[4];
    const char *expect; /* exact message */
} rule_case;

static void run_rule_cases(const rule_case *cases, size_t n, const char *display)
{
    for (size_t i = 0; i < n; i++) {
        cJSON *root = base_manifest();
        for (const mutation *mu = cases[i].muts; mu->key != NULL; mu++)
            set_json(root, mu->section, mu->key, mu->value_json);
        nr_manifest m;
        memset(&m, 0, sizeof m);
        nr_error err = NR_ERROR_INIT;
        NemoRelayStatus st = parse_obj(root, display, &m, &err);
        bool ok = st == NEMO_RELAY_STATUS_INVALID_ARG && err.kind == NR_E_INVALID_CONFIG
                  && strcmp(nr_error_message(&err), cases[i].expect) == 0
                  && err.reason != NULL && strcmp(err.reason, "manifest") == 0
                  && m.plugin.id == NULL;
        if (display != NULL)
            ok = ok && err.manifest != NULL && strcmp(err.manifest, display) == 0;
        if (!ok) {
            fprintf(stderr, "  case %zu: status %d kind %d reason %s\n    got:  %s\n    want: %s\n",
                    i, (int)st, (int)err.kind, err.reason ? err.reason : "(null)",
                    nr_error_message(&err), cases[i].expect);
            CHECK(ok);
        }
        nr_error_clear(&err);
        nr_manifest_clear(&m);
        cJSON_Delete(root);
    }
}

/* ---- steps 5-6 ---------------------------------------------------------- */

static void test_parse_valid(void)
{
    cJSON *root = base_manifest();
    set_json(root, NULL, "unknown_top", "{\"x\": [1, 2]}"); /* unknown keys are ignored */
    set_json(root, "plugin", "homepage", "\"https://example.invalid\"");
    set_json(root, "integrity", "sha256", "\"sha256:" SHA256_ABC "\"");
    nr_manifest m;
    memset(&m, 0, sizeof m);
    nr_error err = NR_ERROR_INIT;
    CHECK(parse_obj(root, "/x/relay-plugin.toml", &m, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err), "");
    CHECK_EQ_INT(m.manifest_version, 1);
    CHECK_STR(m.description, "a test plugin");
    CHECK_STR(m.plugin.id, "fixture");
    CHECK(m.plugin.kind == NR_PLUGIN_KIND_RUST_DYNAMIC);
    CHECK_STR(nr_plugin_kind_name(m.plugin.kind), "rust_dynamic");
    CHECK_STR(m.plugin.name, "Fixture");
    CHECK_STR(m.plugin.version, "0.1.0");
    CHECK_STR(m.compat.relay, ">=0.5");
    CHECK_STR(m.compat.native_api, "1");
    CHECK(m.compat.worker_protocol == NULL);
    CHECK(!m.defaults.enabled);
    CHECK_EQ_INT(m.capabilities.count, 1);
    CHECK_STR(m.capabilities.items[0], "plugin_native");
    CHECK_STR(m.load.library, "libfixture.so");
    CHECK_STR(m.load.symbol, "nemo_relay_plugin_entry");
    CHECK(m.load.runtime == NULL && m.load.entrypoint == NULL);
    CHECK_STR(m.source.manifest_root, ".");
    CHECK_STR(m.source.artifact, "libfixture.so");
    CHECK_STR(m.integrity.sha256, "sha256:" SHA256_ABC);
    CHECK_STR(m.integrity.signature, "fixture.sig");
    nr_manifest_clear(&m);
    CHECK(m.plugin.id == NULL && m.capabilities.items == NULL);
    cJSON_Delete(root);

    /* "native" is our language-neutral spelling of rust_dynamic; optional
     * tables and keys may be absent or null; defaults.enabled defaults false */
    root = base_manifest();
    set_json(root, "plugin", "kind", "\"native\"");
    set_json(root, NULL, "source", NULL);
    set_json(root, NULL, "integrity", "null");
    set_json(root, NULL, "description", "null");
    set_json(root, "plugin", "name", NULL);
    set_json(root, "defaults", "enabled", NULL);
    CHECK(parse_obj(root, NULL, &m, &err) == NEMO_RELAY_STATUS_OK);
    CHECK(m.plugin.kind == NR_PLUGIN_KIND_NATIVE);
    CHECK(m.description == NULL && m.plugin.name == NULL && m.integrity.sha256 == NULL);
    CHECK(!m.defaults.enabled);
    nr_manifest_clear(&m);
    cJSON_Delete(root);

    /* a worker manifest decodes and validates (the loader rejects it later) */
    root = base_manifest();
    set_json(root, "plugin", "kind", "\"worker\"");
    set_json(root, "capabilities", "items", "[\"plugin_worker\", \"config_schema\"]");
    set_json(root, NULL, "load", "{\"runtime\": \"python\", \"entrypoint\": \"pkg.mod:make\"}");
    set_json(root, NULL, "compat", "{\"relay\": \">=0.5\", \"worker_protocol\": \" grpc-v1 \"}");
    CHECK(parse_obj(root, NULL, &m, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err), "");
    CHECK(m.plugin.kind == NR_PLUGIN_KIND_WORKER);
    CHECK_STR(m.load.runtime, "python");
    CHECK_STR(m.load.entrypoint, "pkg.mod:make");
    nr_manifest_clear(&m);
    cJSON_Delete(root);
    nr_error_clear(&err);
}

static void test_decode_errors(void)
{
#define P "invalid relay-plugin.toml: "
    static const rule_case cases[] = {
        {{{NULL, "plugin", NULL}}, P "missing table [plugin]"},
        {{{NULL, "plugin", "\"fixture\""}}, P "[plugin] must be a table"},
        {{{NULL, "compat", NULL}}, P "missing table [compat]"},
        {{{NULL, "defaults", NULL}}, P "missing table [defaults]"},
        {{{NULL, "capabilities", NULL}}, P "missing table [capabilities]"},
        {{{NULL, "load", NULL}}, P "missing table [load]"},
        {{{NULL, "load", "[]"}}, P "[load] must be a table"},
        {{{NULL, "manifest_version", NULL}}, P "missing key manifest_version"},
        {{{NULL, "manifest_version", "\"1\""}}, P "manifest_version must be a non-negative integer"},
        {{{NULL, "manifest_version", "1.5"}}, P "manifest_version must be a non-negative integer"},
        {{{NULL, "manifest_version", "-1"}}, P "manifest_version must be a non-negative integer"},
        {{{"plugin", "id", NULL}}, P "missing key plugin.id"},
        {{{"plugin", "id", "7"}}, P "plugin.id must be a string"},
        {{{"plugin", "kind", NULL}}, P "missing key plugin.kind"},
        {{{"plugin", "kind", "\"python\""}},
         P "plugin.kind must be \"rust_dynamic\", \"worker\" or \"native\" (got \"python\")"},
        {{{"plugin", "kind", "\"Rust_Dynamic\""}},
         P "plugin.kind must be \"rust_dynamic\", \"worker\" or \"native\" (got \"Rust_Dynamic\")"},
        {{{"plugin", "kind", "1"}}, P "plugin.kind must be \"rust_dynamic\", \"worker\" or \"native\""},
        {{{"plugin", "name", "false"}}, P "plugin.name must be a string"},
        {{{"compat", "relay", "0.5"}}, P "compat.relay must be a string"},
        {{{"defaults", "enabled", "\"yes\""}}, P "defaults.enabled must be a boolean"},
        {{{"capabilities", "items", NULL}}, P "missing key capabilities.items"},
        {{{"capabilities", "items", "\"plugin_native\""}}, P "capabilities.items must be an array"},
        {{{"capabilities", "items", "[\"plugin_native\", \"bogus\"]"}},
         P "capabilities.items[1] must be \"plugin_native\", \"plugin_worker\" or \"config_schema\""},
        {{{NULL, "load", "{}"}},
         P "load must declare either worker fields (runtime, entrypoint) or rust_dynamic fields "
           "(library, symbol)"},
        {{{"load", "entrypoint", "\"x\""}},
         P "load must declare either worker fields (runtime, entrypoint) or rust_dynamic fields "
           "(library, symbol), not both"},
        {{{NULL, "load", "{\"runtime\": \"java\", \"entrypoint\": \"x\"}"}},
         P "load.runtime must be \"python\", \"rust\" or \"command\" (got \"java\")"},
        {{{NULL, "source", "\"x\""}}, P "[source] must be a table"},
        {{{"integrity", "sha256", "5"}}, P "integrity.sha256 must be a string"},
        {{{NULL, "description", "5"}}, P "description must be a string"},
        /* decode errors win over validation errors */
        {{{NULL, "manifest_version", "2"}, {"plugin", "kind", "\"dll\""}},
         P "plugin.kind must be \"rust_dynamic\", \"worker\" or \"native\" (got \"dll\")"},
    };
#undef P
    run_rule_cases(cases, sizeof cases / sizeof cases[0], "/some/where/relay-plugin.toml");

    /* a relay-plugin.json names itself */
    static const rule_case json_case[] = {
        {{{NULL, "plugin", NULL}}, "invalid relay-plugin.json: missing table [plugin]"},
    };
    run_rule_cases(json_case, 1, "/some/where/relay-plugin.json");
}

static void expect_text_error(const char *text, size_t len, const char *needle, int line)
{
    nr_manifest m;
    memset(&m, 0, sizeof m);
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus st = nr_manifest_parse_json(text, len, "/m/relay-plugin.toml", &m, &err);
    bool ok = st != NEMO_RELAY_STATUS_OK && err.kind == NR_E_INVALID_CONFIG
              && strncmp(nr_error_message(&err), "invalid relay-plugin.toml: ", 27) == 0
              && strstr(nr_error_message(&err), needle) != NULL;
    if (!ok) {
        fprintf(stderr, "  line %d: got \"%s\", want \"%s\"\n", line, nr_error_message(&err), needle);
        CHECK(ok);
    }
    nr_error_clear(&err);
    nr_manifest_clear(&m);
}

static void test_syntax_errors(void)
{
    expect_text_error("", 0, "JSON syntax error at line 1, column 1", __LINE__);
    expect_text_error("{\n  \"a\": }", 10, "JSON syntax error at line 2", __LINE__);
    expect_text_error("{} x", 4, "unexpected text after the document", __LINE__);
    expect_text_error("[1, 2]", 6, "expected a JSON object", __LINE__);
    expect_text_error("{\"a\": \"\xff\"}", 10, "not valid UTF-8 (byte offset 7)", __LINE__);
    expect_text_error("{\"a\": \"\xed\xa0\x80\"}", 12, "not valid UTF-8", __LINE__);
    expect_text_error("{\"a\": 1}\0{}", 11, "NUL byte at offset 8", __LINE__);
    /* length-bounded: a valid prefix is all that is read */
    expect_text_error(base_manifest_json, 10, "JSON syntax error", __LINE__);
    /* trailing whitespace is fine; the text need not be NUL-terminated */
    char buf[sizeof base_manifest_json + 3];
    memcpy(buf, base_manifest_json, sizeof base_manifest_json - 1);
    memcpy(buf + sizeof base_manifest_json - 1, " \n\tX", 4);
    nr_manifest m;
    memset(&m, 0, sizeof m);
    nr_error err = NR_ERROR_INIT;
    CHECK(nr_manifest_parse_json(buf, sizeof base_manifest_json + 2, NULL, &m, &err)
          == NEMO_RELAY_STATUS_OK);
    nr_manifest_clear(&m);
    CHECK(nr_manifest_parse_json(NULL, 0, NULL, &m, &err) != NEMO_RELAY_STATUS_OK);
    CHECK(nr_manifest_parse_json("{}", 2, NULL, NULL, &err) != NEMO_RELAY_STATUS_OK);
    nr_error_clear(&err);
}

static void test_validation_rules(void)
{
    static const rule_case cases[] = {
        /* each rule of step 6, in upstream order */
        {{{NULL, "manifest_version", "2"}}, "unsupported relay-plugin.toml manifest_version 2; expected 1"},
        {{{"plugin", "id", "\"  \""}}, "plugin.id must not be empty"},
        {{{"plugin", "name", "\" \""}}, "plugin.name must not be empty when provided"},
        {{{"plugin", "version", "\"\\t\""}}, "plugin.version must not be empty when provided"},
        {{{NULL, "description", "\"\""}}, "description must not be empty when provided"},
        {{{"source", "manifest_root", "\"\""}}, "source.manifest_root must not be empty when provided"},
        {{{"source", "artifact", "\"\\n\""}}, "source.artifact must not be empty when provided"},
        {{{"integrity", "sha256", "\"  \""}}, "integrity.sha256 must not be empty when provided"},
        {{{"integrity", "signature", "\"\\u00a0\""}}, "integrity.signature must not be empty when provided"},
        {{{"compat", "relay", NULL}}, "compat.relay is required"},
        {{{"compat", "relay", "\" \""}}, "compat.relay must not be empty"},
        {{{"capabilities", "items", "[]"}}, "capabilities.items must declare at least one capability"},
        {{{"capabilities", "items", "[\"plugin_native\", \"config_schema\", \"plugin_native\"]"}},
         "capabilities.items contains duplicate capability 'plugin_native'"},
        {{{"defaults", "enabled", "true"}},
         "defaults.enabled=true is not supported for dynamic plugins; plugins are added disabled "
         "and require explicit enablement"},
        {{{"capabilities", "items", "[\"config_schema\"]"}},
         "rust_dynamic plugins must declare capabilities.items containing plugin_native"},
        {{{"capabilities", "items", "[\"plugin_native\", \"plugin_worker\"]"}},
         "rust_dynamic plugins must not declare plugin_worker"},
        {{{NULL, "load", "{\"runtime\": \"python\", \"entrypoint\": \"m:f\"}"}},
         "rust_dynamic plugins must not declare load.runtime or load.entrypoint"},
        {{{"load", "library", NULL}}, "load.library is required"},
        {{{"load", "library", "\" \""}}, "load.library must not be empty"},
        {{{"load", "symbol", NULL}}, "load.symbol is required"},
        {{{"load", "symbol", "\"\""}}, "load.symbol must not be empty"},
        {{{"compat", "native_api", NULL}}, "compat.native_api is required"},
        {{{"compat", "native_api", "\" \""}}, "compat.native_api must not be empty"},
        {{{"compat", "worker_protocol", "\"grpc-v1\""}},
         "rust_dynamic plugins must not declare compat.worker_protocol"},
        /* kind "native" gets the same rules, named after its kind */
        {{{"plugin", "kind", "\"native\""}, {"capabilities", "items", "[\"config_schema\"]"}},
         "native plugins must declare capabilities.items containing plugin_native"},
        {{{"plugin", "kind", "\"native\""}, {"compat", "native_api", NULL}},
         "compat.native_api is required"},
        /* worker shape rules */
        {{{"plugin", "kind", "\"worker\""}},
         "worker plugins must declare capabilities.items containing plugin_worker"},
        {{{"plugin", "kind", "\"worker\""}, {"capabilities", "items", "[\"plugin_worker\", \"plugin_native\"]"}},
         "worker plugins must not declare plugin_native"},
        {{{"plugin", "kind", "\"worker\""}, {"capabilities", "items", "[\"plugin_worker\"]"}},
         "worker plugins must not declare load.library or load.symbol"},
        {{{"plugin", "kind", "\"worker\""}, {"capabilities", "items", "[\"plugin_worker\"]"},
          {NULL, "load", "{\"runtime\": \"rust\", \"entrypoint\": \" \"}"}},
         "load.entrypoint must not be empty"},
        {{{"plugin", "kind", "\"worker\""}, {"capabilities", "items", "[\"plugin_worker\"]"},
          {NULL, "load", "{\"entrypoint\": \"bin/worker\"}"}},
         "worker plugins must declare load.runtime"},
        {{{"plugin", "kind", "\"worker\""}, {"capabilities", "items", "[\"plugin_worker\"]"},
          {NULL, "load", "{\"runtime\": \"command\", \"entrypoint\": \"bin/worker\"}"}},
         "compat.worker_protocol is required"},
        {{{"plugin", "kind", "\"worker\""}, {"capabilities", "items", "[\"plugin_worker\"]"},
          {NULL, "load", "{\"runtime\": \"command\", \"entrypoint\": \"bin/worker\"}"},
          {"compat", "worker_protocol", "\"grpc-v2\""}},
         "worker plugins must declare compat.worker_protocol = \"grpc-v1\""},
        {{{"plugin", "kind", "\"worker\""}, {"capabilities", "items", "[\"plugin_worker\"]"},
          {NULL, "load", "{\"runtime\": \"command\", \"entrypoint\": \"bin/worker\"}"},
          {"compat", "worker_protocol", "\"grpc-v1\""}},
         "worker plugins must not declare compat.native_api"},
        /* order: with two faults, the earlier rule reports */
        {{{NULL, "manifest_version", "2"}, {"plugin", "id", "\"\""}},
         "unsupported relay-plugin.toml manifest_version 2; expected 1"},
        {{{"plugin", "id", "\"\""}, {"plugin", "name", "\"\""}}, "plugin.id must not be empty"},
        {{{"plugin", "name", "\"\""}, {"compat", "relay", NULL}},
         "plugin.name must not be empty when provided"},
        {{{"integrity", "signature", "\"\""}, {"compat", "relay", NULL}},
         "integrity.signature must not be empty when provided"},
        {{{"compat", "relay", NULL}, {"capabilities", "items", "[]"}}, "compat.relay is required"},
        {{{"capabilities", "items", "[]"}, {"defaults", "enabled", "true"}},
         "capabilities.items must declare at least one capability"},
        {{{"capabilities", "items", "[\"plugin_native\", \"plugin_native\"]"}, {"defaults", "enabled", "true"}},
         "capabilities.items contains duplicate capability 'plugin_native'"},
        {{{"defaults", "enabled", "true"}, {"capabilities", "items", "[\"config_schema\"]"}},
         "defaults.enabled=true is not supported for dynamic plugins; plugins are added disabled "
         "and require explicit enablement"},
        {{{"capabilities", "items", "[\"config_schema\"]"}, {"load", "library", NULL}},
         "rust_dynamic plugins must declare capabilities.items containing plugin_native"},
        {{{"load", "library", NULL}, {"compat", "native_api", NULL}}, "load.library is required"},
        {{{"load", "symbol", "\"\""}, {"compat", "worker_protocol", "\"grpc-v1\""}}, "load.symbol must not be empty"},
    };
    run_rule_cases(cases, sizeof cases / sizeof cases[0], "/p/relay-plugin.toml");

    /* validation errors carry the (trimmed) plugin id */
    cJSON *root = base_manifest();
    set_json(root, "plugin", "id", "\"  spaced-id \"");
    set_json(root, "defaults", "enabled", "true");
    nr_manifest m;
    memset(&m, 0, sizeof m);
    nr_error err = NR_ERROR_INIT;
    CHECK(parse_obj(root, "/p/relay-plugin.toml", &m, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_STR(err.plugin_id, "spaced-id");
    CHECK_STR(err.manifest, "/p/relay-plugin.toml");
    CHECK_STR(err.reason, "manifest");
    nr_error_clear(&err);
    cJSON_Delete(root);
}

/* ---- steps 1-4 ---------------------------------------------------------- */

static void test_resolve(void)
{
    fx f;
    CHECK(fx_init(&f));
    char dir[256], toml[256], json[256], link[256], other[600], want[PATH_MAX];
    nr_error err = NR_ERROR_INIT;
    char *canon = NULL;

    fx_path(&f, "plug", dir, sizeof dir);
    CHECK(mkdir(dir, 0755) == 0);
    fx_path(&f, "plug/relay-plugin.toml", toml, sizeof toml);
    fx_path(&f, "plug/relay-plugin.json", json, sizeof json);
    fx_path(&f, "link", link, sizeof link);
    CHECK(symlink(dir, link) == 0);

    /* a directory without any manifest names the .toml */
    CHECK(nr_manifest_resolve(dir, &canon, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK(canon == NULL);
    CHECK(err.kind == NR_E_NOT_FOUND);
    char msg[600];
    snprintf(msg, sizeof msg, "dynamic plugin manifest '%s' does not exist", toml);
    CHECK_STR(nr_error_message(&err), msg);
    CHECK_STR(err.reason, "manifest");
    CHECK_STR(err.manifest, toml);
    nr_error_clear(&err);

    /* only a .json: the directory resolves to it */
    CHECK(write_file(json, "{}", 2, 0644));
    CHECK(nr_manifest_resolve(dir, &canon, &err) == NEMO_RELAY_STATUS_OK);
    CHECK(realpath(json, want) != NULL);
    CHECK_STR(canon, want);
    free(canon);
    canon = NULL;

    /* both: the .toml wins; a trailing slash is fine */
    CHECK(write_file(toml, "x", 1, 0644));
    snprintf(other, sizeof other, "%s/", dir);
    CHECK(nr_manifest_resolve(other, &canon, &err) == NEMO_RELAY_STATUS_OK);
    CHECK(realpath(toml, want) != NULL);
    CHECK_STR(canon, want);
    free(canon);
    canon = NULL;

    /* through a symlinked directory: canonicalised to the real path */
    CHECK(nr_manifest_resolve(link, &canon, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(canon, want);
    CHECK(strstr(canon, "/link/") == NULL);
    free(canon);
    canon = NULL;

    /* a file path directly */
    snprintf(other, sizeof other, "%s/relay-plugin.toml", link);
    CHECK(nr_manifest_resolve(other, &canon, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(canon, want);
    free(canon);
    canon = NULL;

    /* missing file; a path through a regular file also reads as missing */
    fx_path(&f, "nope/relay-plugin.toml", other, sizeof other);
    CHECK(nr_manifest_resolve(other, &canon, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK_CONTAINS(nr_error_message(&err), "does not exist");
    nr_error_clear(&err);
    snprintf(other, sizeof other, "%s/sub", toml);
    CHECK(nr_manifest_resolve(other, &canon, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    nr_error_clear(&err);
    CHECK(nr_manifest_resolve("", &canon, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK_STR(nr_error_message(&err), "dynamic plugin manifest '' does not exist");
    nr_error_clear(&err);
    CHECK(nr_manifest_resolve(NULL, &canon, &err) != NEMO_RELAY_STATUS_OK);
    nr_error_clear(&err);
    fx_done(&f);
}

static void test_read_file(void)
{
    fx f;
    CHECK(fx_init(&f));
    char path[256];
    nr_error err = NR_ERROR_INIT;
    char *text = NULL;
    size_t len = 0;

    fx_path(&f, "relay-plugin.json", path, sizeof path);
    CHECK(write_file(path, base_manifest_json, sizeof base_manifest_json - 1, 0644));
    CHECK(nr_manifest_read_file(path, &text, &len, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(len, sizeof base_manifest_json - 1);
    CHECK(text != NULL && text[len] == '\0' && memcmp(text, base_manifest_json, len) == 0);
    nr_manifest m;
    memset(&m, 0, sizeof m);
    CHECK(nr_manifest_parse_json(text, len, path, &m, &err) == NEMO_RELAY_STATUS_OK);
    nr_manifest_clear(&m);
    free(text);
    text = NULL;

    /* empty file */
    CHECK(write_file(path, "", 0, 0644));
    CHECK(nr_manifest_read_file(path, &text, &len, &err) == NEMO_RELAY_STATUS_OK);
    CHECK(len == 0 && text != NULL && text[0] == '\0');
    free(text);
    text = NULL;

    /* missing -> Internal; a directory -> not a regular file */
    fx_path(&f, "missing.json", path, sizeof path);
    CHECK(nr_manifest_read_file(path, &text, &len, &err) == NEMO_RELAY_STATUS_INTERNAL);
    CHECK_CONTAINS(nr_error_message(&err), "failed to read dynamic plugin manifest");
    CHECK_STR(err.reason, "manifest");
    CHECK_STR(err.manifest, path);
    nr_error_clear(&err);
    CHECK(nr_manifest_read_file(f.root, &text, &len, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_CONTAINS(nr_error_message(&err), "is not a regular file");
    nr_error_clear(&err);

    /* over the size bound */
    size_t big_len = NR_MANIFEST_MAX_BYTES + 1;
    char *big = malloc(big_len);
    CHECK(big != NULL);
    if (big != NULL) {
        memset(big, ' ', big_len);
        fx_path(&f, "big.json", path, sizeof path);
        CHECK(write_file(path, big, big_len, 0644));
        CHECK(nr_manifest_read_file(path, &text, &len, &err) != NEMO_RELAY_STATUS_OK);
        CHECK_CONTAINS(nr_error_message(&err), "is larger than");
        CHECK(text == NULL);
        nr_error_clear(&err);
        /* exactly at the bound is accepted */
        CHECK(write_file(path, big, big_len - 1, 0644));
        CHECK(nr_manifest_read_file(path, &text, &len, &err) == NEMO_RELAY_STATUS_OK);
        CHECK_EQ_INT(len, NR_MANIFEST_MAX_BYTES);
        free(text);
        text = NULL;
        free(big);
    }
    fx_done(&f);
}

/* ---- steps 7-15 --------------------------------------------------------- */

/* Parses the base manifest (with optional mutations) into *m. */
static bool load_base(nr_manifest *m, const mutation *muts)
{
    cJSON *root = base_manifest();
    for (const mutation *mu = muts; mu != NULL && mu->key != NULL; mu++)
        set_json(root, mu->section, mu->key, mu->value_json);
    nr_error err = NR_ERROR_INIT;
    memset(m, 0, sizeof *m);
    NemoRelayStatus st = parse_obj(root, NULL, m, &err);
    if (st != NEMO_RELAY_STATUS_OK)
        fprintf(stderr, "  load_base: %s\n", nr_error_message(&err));
    nr_error_clear(&err);
    cJSON_Delete(root);
    return st == NEMO_RELAY_STATUS_OK;
}

static void replace_str(char **slot, const char *value)
{
    free(*slot);
    *slot = value != NULL ? nr_strdup(value) : NULL;
}

static void check_fields(const nr_error *err, const char *reason, const char *plugin_id,
                         const char *manifest, int line)
{
    bool ok = err->reason != NULL && strcmp(err->reason, reason) == 0
              && err->plugin_id != NULL && strcmp(err->plugin_id, plugin_id) == 0
              && err->manifest != NULL && strcmp(err->manifest, manifest) == 0;
    if (!ok) {
        fprintf(stderr, "  line %d: reason=%s plugin_id=%s manifest=%s\n", line,
                err->reason ? err->reason : "(null)", err->plugin_id ? err->plugin_id : "(null)",
                err->manifest ? err->manifest : "(null)");
        CHECK(ok);
    }
}

static void test_check_order(void)
{
    fx f;
    CHECK(fx_init(&f));
    char manifest_path[256], lib[256], msg[700];
    fx_path(&f, "relay-plugin.toml", manifest_path, sizeof manifest_path);
    fx_path(&f, "libfixture.so", lib, sizeof lib); /* never created */

    nr_manifest m;
    CHECK(load_base(&m, NULL));
    nr_error err = NR_ERROR_INIT;
    char *out = (char *)manifest_path; /* must be reset to NULL on failure */
    nr_manifest_check_opts opts = {"other", HOST_VERSION, false, true};

    /* every check 7-10 fails; the library does not exist either.  Each fix
     * reveals the next check, in order, before the library is probed. */
    replace_str(&m.compat.relay, "not a version requirement");
    replace_str(&m.compat.native_api, "2");
    m.plugin.kind = NR_PLUGIN_KIND_WORKER;

    /* 7. id */
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) == NEMO_RELAY_STATUS_INVALID_ARG);
    CHECK(out == NULL);
    CHECK(err.kind == NR_E_INVALID_CONFIG);
    CHECK_STR(nr_error_message(&err), "dynamic plugin manifest id 'fixture' does not match expected id 'other'");
    check_fields(&err, "id", "other", manifest_path, __LINE__);
    nr_error_clear(&err);

    /* 8. kind */
    opts.expected_id = "fixture";
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) != NEMO_RELAY_STATUS_OK);
    CHECK(err.kind == NR_E_INVALID_CONFIG);
    CHECK_STR(nr_error_message(&err),
              "dynamic plugin 'fixture' is kind worker; native loader only supports rust_dynamic or native");
    CHECK_CONTAINS(nr_error_message(&err), "only supports rust_dynamic");
    check_fields(&err, "kind", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);

    /* 9a. unparsable requirement */
    m.plugin.kind = NR_PLUGIN_KIND_RUST_DYNAMIC;
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) != NEMO_RELAY_STATUS_OK);
    CHECK(err.kind == NR_E_INVALID_CONFIG);
    CHECK_STR(nr_error_message(&err), "invalid compat.relay version requirement: "
                                      "unexpected character 'n' while parsing major version number");
    check_fields(&err, "compat.relay", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);

    /* 9b. requirement not met by the host */
    replace_str(&m.compat.relay, " >=1.0,<2.0 ");
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) != NEMO_RELAY_STATUS_OK);
    CHECK(err.kind == NR_E_INVALID_CONFIG);
    CHECK_STR(nr_error_message(&err), "native plugin requires relay '>=1.0,<2.0' but host version is 0.5.0");
    check_fields(&err, "compat.relay", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);

    /* 10. native_api */
    replace_str(&m.compat.relay, "=0.5.0");
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) != NEMO_RELAY_STATUS_OK);
    CHECK(err.kind == NR_E_INVALID_CONFIG);
    CHECK_STR(nr_error_message(&err),
              "dynamic plugin 'fixture' declares unsupported compat.native_api '2'; expected 1");
    check_fields(&err, "native_api", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);

    /* 13. only now: the library does not exist */
    replace_str(&m.compat.native_api, " 1 ");
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK(err.kind == NR_E_NOT_FOUND);
    snprintf(msg, sizeof msg, "native plugin library '%s' does not exist", lib);
    CHECK_STR(nr_error_message(&err), msg);
    check_fields(&err, "library", "fixture", manifest_path, __LINE__);
    CHECK(out == NULL);
    nr_error_clear(&err);

    /* without probing, the resolved path comes back */
    opts.probe_library = false;
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(out, lib);
    free(out);
    out = NULL;
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_OK);

    /* 11. defensive load-contract check */
    replace_str(&m.load.entrypoint, "m:f");
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err), "dynamic plugin 'fixture' has invalid rust_dynamic load contract");
    check_fields(&err, "manifest", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);
    replace_str(&m.load.entrypoint, NULL);

    /* 12. library missing from the struct */
    replace_str(&m.load.library, NULL);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err), "load.library is required");
    check_fields(&err, "library", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);
    replace_str(&m.load.library, "libfixture.so");

    /* 15. symbol missing from the struct (checked after the library) */
    replace_str(&m.load.symbol, NULL);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err), "load.symbol is required");
    check_fields(&err, "symbol", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);
    opts.probe_library = true;
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    nr_error_clear(&err);
    replace_str(&m.load.symbol, "nemo_relay_plugin_entry");
    opts.probe_library = false;

    /* the manifest id is compared trimmed but reported as written */
    replace_str(&m.plugin.id, "  fixture\t");
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_OK);
    opts.expected_id = "fixture2";
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err),
              "dynamic plugin manifest id '  fixture\t' does not match expected id 'fixture2'");
    nr_error_clear(&err);
    /* the spec id is not trimmed */
    opts.expected_id = " fixture";
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_CONTAINS(nr_error_message(&err), "does not match expected id");
    nr_error_clear(&err);

    /* validate-only: no expected id; errors name the manifest's own id */
    opts.expected_id = NULL;
    replace_str(&m.compat.native_api, "v1");
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err),
              "dynamic plugin 'fixture' declares unsupported compat.native_api 'v1'; expected 1");
    check_fields(&err, "native_api", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);
    replace_str(&m.compat.native_api, "1");

    /* blank relay (defensive), bad host version, pre-release host */
    replace_str(&m.compat.relay, "  ");
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err), "compat.relay is required");
    nr_error_clear(&err);
    replace_str(&m.compat.relay, "^0.5");
    opts.host_version = "0.5";
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_INTERNAL);
    CHECK_STR(nr_error_message(&err),
              "failed to parse host version: unexpected end of input while parsing minor version number");
    nr_error_clear(&err);
    opts.host_version = "0.6.0-rc.1";
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_CONTAINS(nr_error_message(&err), "requires relay '^0.5' but host version is 0.6.0-rc.1");
    nr_error_clear(&err);
    opts.host_version = "0.5.3";
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_OK);
    opts.host_version = NULL;
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_INTERNAL);
    nr_error_clear(&err);
    CHECK(nr_manifest_check(NULL, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    nr_error_clear(&err);

    nr_manifest_clear(&m);
    fx_done(&f);
}

/* Writes <dir>/relay-plugin.json from the base manifest with mutations and
 * a library <dir>/libfixture.so containing "abc". */
static bool write_plugin_dir(const char *dir, const mutation *muts)
{
    char path[512];
    cJSON *root = base_manifest();
    for (const mutation *mu = muts; mu != NULL && mu->key != NULL; mu++)
        set_json(root, mu->section, mu->key, mu->value_json);
    char *text = cJSON_PrintUnformatted(root);
    snprintf(path, sizeof path, "%s/relay-plugin.json", dir);
    bool ok = write_file(path, text, strlen(text), 0644);
    cJSON_free(text);
    cJSON_Delete(root);
    snprintf(path, sizeof path, "%s/libfixture.so", dir);
    return write_file(path, "abc", 3, 0644) && ok;
}

/* Steps 1-15 for manifest_ref the way the loader runs them. */
static NemoRelayStatus full_check(const char *manifest_ref, const nr_manifest_check_opts *opts,
                                  char **out_lib, char **out_canon, nr_error *err)
{
    char *text = NULL;
    size_t len = 0;
    nr_manifest m;
    memset(&m, 0, sizeof m);
    *out_canon = NULL;
    NemoRelayStatus st = nr_manifest_resolve(manifest_ref, out_canon, err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nr_manifest_read_file(*out_canon, &text, &len, err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nr_manifest_parse_json(text, len, *out_canon, &m, err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nr_manifest_check(&m, *out_canon, opts, out_lib, err);
    nr_manifest_clear(&m);
    free(text);
    return st;
}

static void test_library_resolution(void)
{
    fx f;
    CHECK(fx_init(&f));
    char real_dir[256], link_dir[256], want[PATH_MAX], abs_lib[PATH_MAX], msg[800];
    nr_error err = NR_ERROR_INIT;
    char *lib = NULL, *canon = NULL;
    nr_manifest_check_opts opts = {"fixture", HOST_VERSION, false, true};

    fx_path(&f, "real", real_dir, sizeof real_dir);
    fx_path(&f, "elsewhere", link_dir, sizeof link_dir);
    CHECK(mkdir(real_dir, 0755) == 0);
    CHECK(mkdir(link_dir, 0755) == 0);
    fx_path(&f, "elsewhere/link", link_dir, sizeof link_dir);
    CHECK(symlink(real_dir, link_dir) == 0);
    CHECK(write_plugin_dir(real_dir, NULL));

    /* via the symlinked directory: relative library resolves next to the
     * canonical manifest, not next to the link */
    CHECK(full_check(link_dir, &opts, &lib, &canon, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_error_message(&err), "");
    /* want = dirname(canonical manifest) + "/libfixture.so" */
    const char *canon_slash = canon != NULL ? strrchr(canon, '/') : NULL;
    snprintf(want, sizeof want, "%.*s/libfixture.so",
             canon_slash != NULL ? (int)(canon_slash - canon) : 0, canon != NULL ? canon : "");
    CHECK_STR(lib, want);
    CHECK(lib != NULL && strstr(lib, "elsewhere") == NULL);
    CHECK(canon != NULL && strstr(canon, "/real/relay-plugin.json") != NULL);
    free(lib);
    free(canon);
    lib = canon = NULL;

    /* load.library is used untrimmed */
    mutation spaced[] = {{"load", "library", "\" libfixture.so\""}, {NULL, NULL, NULL}};
    CHECK(write_plugin_dir(real_dir, spaced));
    CHECK(full_check(link_dir, &opts, &lib, &canon, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK_CONTAINS(nr_error_message(&err), "/real/ libfixture.so' does not exist");
    CHECK_STR(err.manifest, canon);
    nr_error_clear(&err);
    free(canon);
    canon = NULL;

    /* an absolute library path is used as-is */
    fx_path(&f, "real/libfixture.so", abs_lib, sizeof abs_lib);
    char abs_json[PATH_MAX + 8];
    snprintf(abs_json, sizeof abs_json, "\"%s\"", abs_lib);
    mutation absolute[] = {{"load", "library", abs_json}, {NULL, NULL, NULL}};
    CHECK(write_plugin_dir(real_dir, absolute));
    CHECK(full_check(link_dir, &opts, &lib, &canon, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(lib, abs_lib);
    free(lib);
    free(canon);
    lib = canon = NULL;

    /* relative with a subdirectory */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/lib", real_dir);
    CHECK(mkdir(sub, 0755) == 0);
    snprintf(sub, sizeof sub, "%s/lib/libsub.so", real_dir);
    CHECK(write_file(sub, "abc", 3, 0644));
    mutation subdir[] = {{"load", "library", "\"lib/libsub.so\""}, {NULL, NULL, NULL}};
    CHECK(write_plugin_dir(real_dir, subdir));
    CHECK(full_check(link_dir, &opts, &lib, &canon, &err) == NEMO_RELAY_STATUS_OK);
    CHECK(lib != NULL && strstr(lib, "/real/lib/libsub.so") != NULL);
    free(lib);
    free(canon);
    lib = canon = NULL;

    /* the whole pipeline reports a manifest error with its canonical path */
    mutation wrong_id[] = {{"plugin", "id", "\"someone-else\""}, {NULL, NULL, NULL}};
    CHECK(write_plugin_dir(real_dir, wrong_id));
    CHECK(full_check(link_dir, &opts, &lib, &canon, &err) != NEMO_RELAY_STATUS_OK);
    snprintf(msg, sizeof msg, "dynamic plugin manifest id 'someone-else' does not match expected id 'fixture'");
    CHECK_STR(nr_error_message(&err), msg);
    check_fields(&err, "id", "fixture", canon != NULL ? canon : "?", __LINE__);
    CHECK(lib == NULL);
    nr_error_clear(&err);
    free(canon);
    fx_done(&f);
}

static void test_sha256(void)
{
    fx f;
    CHECK(fx_init(&f));
    char path[256], manifest_path[256], msg[600];
    char hex[65];
    nr_error err = NR_ERROR_INIT;

    /* the hash itself: known vectors, including one spanning many chunks */
    fx_path(&f, "libfixture.so", path, sizeof path);
    CHECK(write_file(path, "abc", 3, 0644));
    CHECK(nr_sha256_file_hex(path, hex, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(hex, SHA256_ABC);
    char empty[256];
    fx_path(&f, "empty", empty, sizeof empty);
    CHECK(write_file(empty, "", 0, 0644));
    CHECK(nr_sha256_file_hex(empty, hex, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(hex, SHA256_EMPTY);
    char *million = malloc(1000000);
    CHECK(million != NULL);
    if (million != NULL) {
        memset(million, 'a', 1000000);
        fx_path(&f, "million", empty, sizeof empty);
        CHECK(write_file(empty, million, 1000000, 0644));
        CHECK(nr_sha256_file_hex(empty, hex, &err) == NEMO_RELAY_STATUS_OK);
        CHECK_STR(hex, SHA256_MILLION_A);
        free(million);
    }
    fx_path(&f, "absent", empty, sizeof empty);
    CHECK(nr_sha256_file_hex(empty, hex, &err) == NEMO_RELAY_STATUS_INTERNAL);
    CHECK_CONTAINS(nr_error_message(&err), "failed to read '");
    nr_error_clear(&err);
    CHECK(nr_sha256_file_hex(f.root, hex, &err) == NEMO_RELAY_STATUS_INTERNAL); /* a directory */
    nr_error_clear(&err);

    /* the manifest check */
    fx_path(&f, "relay-plugin.toml", manifest_path, sizeof manifest_path);
    nr_manifest m;
    CHECK(load_base(&m, NULL));
    nr_manifest_check_opts opts = {"fixture", HOST_VERSION, false, true};
    static const char *good[] = {
        SHA256_ABC,
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        "sha256:" SHA256_ABC,
        "SHA256:" SHA256_ABC,
        "Sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "  sha256:" SHA256_ABC " \n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *lib = NULL;
        replace_str(&m.integrity.sha256, good[i]);
        NemoRelayStatus st = nr_manifest_check(&m, manifest_path, &opts, &lib, &err);
        if (st != NEMO_RELAY_STATUS_OK)
            fprintf(stderr, "  digest \"%s\": %s\n", good[i], nr_error_message(&err));
        CHECK(st == NEMO_RELAY_STATUS_OK);
        CHECK_STR(lib, path);
        free(lib);
        nr_error_clear(&err);
    }
    static const char *bad[] = {
        "sha256:deadbeef",
        SHA256_EMPTY,
        "sha256: " SHA256_ABC,        /* no trimming after the prefix */
        "sha256:sha256:" SHA256_ABC,  /* the prefix is stripped once */
        SHA256_ABC "00",
        "sha512:" SHA256_ABC,
    };
    snprintf(msg, sizeof msg, "native plugin library '%s' sha256 mismatch", path);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *lib = NULL;
        replace_str(&m.integrity.sha256, bad[i]);
        CHECK(nr_manifest_check(&m, manifest_path, &opts, &lib, &err) == NEMO_RELAY_STATUS_INVALID_ARG);
        CHECK(err.kind == NR_E_INVALID_CONFIG);
        CHECK_CONTAINS(nr_error_message(&err), msg);
        /* both digests, the expected one as written */
        char both[512];
        snprintf(both, sizeof both, ": integrity.sha256 is '%s' but the library's digest is 'sha256:%s'",
                 bad[i], SHA256_ABC);
        CHECK_CONTAINS(nr_error_message(&err), both);
        check_fields(&err, "sha256", "fixture", manifest_path, __LINE__);
        CHECK(lib == NULL);
        nr_error_clear(&err);
    }
    /* not probing the library skips the digest */
    opts.probe_library = false;
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_OK);
    opts.probe_library = true;

    /* existence is checked before the digest; the digest before permissions */
    CHECK(chmod(path, 0666) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_STR(err.reason, "sha256");
    nr_error_clear(&err);
    CHECK(unlink(path) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK_STR(err.reason, "library");
    nr_error_clear(&err);

    nr_manifest_clear(&m);
    fx_done(&f);
}

static void test_permissions(void)
{
    fx f;
    CHECK(fx_init(&f));
    char dir[256], manifest_path[300], lib[300], real_lib[PATH_MAX], msg[PATH_MAX + 256];
    nr_error err = NR_ERROR_INIT;
    char *out = NULL;

    fx_path(&f, "plug", dir, sizeof dir);
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(chmod(dir, 0755) == 0);
    snprintf(manifest_path, sizeof manifest_path, "%s/relay-plugin.toml", dir);
    snprintf(lib, sizeof lib, "%s/libfixture.so", dir);
    CHECK(write_file(lib, "abc", 3, 0644));

    nr_manifest m;
    CHECK(load_base(&m, NULL));
    replace_str(&m.integrity.sha256, SHA256_ABC);
    nr_manifest_check_opts opts = {"fixture", HOST_VERSION, false, true};

    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) == NEMO_RELAY_STATUS_OK);
    free(out);
    out = NULL;

    /* world-writable library */
    CHECK(chmod(lib, 0666) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) != NEMO_RELAY_STATUS_OK);
    CHECK(err.kind == NR_E_PLUGIN_LOAD);
    snprintf(msg, sizeof msg,
             "native plugin library '%s' is writable by group or others (mode 0666); refusing to "
             "load it (pass trust_writable=True to allow)", lib);
    CHECK_STR(nr_error_message(&err), msg);
    check_fields(&err, "permissions", "fixture", manifest_path, __LINE__);
    CHECK(out == NULL);
    nr_error_clear(&err);
    opts.trust_writable = true;
    CHECK(nr_manifest_check(&m, manifest_path, &opts, &out, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(out, lib);
    free(out);
    out = NULL;
    opts.trust_writable = false;

    /* group-writable library: refused when the group is shared, accepted
     * when it is the owner's private group (only root can move the file
     * between groups, so only then are both cases exercised) */
    CHECK(chmod(lib, 0664) == 0);
    if (geteuid() == 0) {
        CHECK(chown(lib, (uid_t)-1, 65534) == 0); /* nogroup: not root's group */
        CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
        CHECK_CONTAINS(nr_error_message(&err), "(mode 0664)");
        nr_error_clear(&err);
        CHECK(chown(lib, (uid_t)-1, 0) == 0); /* root's own group, no other members */
        CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_OK);
        nr_error_clear(&err);
    }

    /* writable directory (library itself fine) */
    CHECK(chmod(lib, 0755) == 0);
    CHECK(chmod(dir, 0777) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK(err.kind == NR_E_PLUGIN_LOAD);
    CHECK(realpath(dir, real_lib) != NULL);
    snprintf(msg, sizeof msg,
             "native plugin library directory '%s' is writable by group or others (mode 0777); "
             "refusing to load it (pass trust_writable=True to allow)", real_lib);
    CHECK_STR(nr_error_message(&err), msg);
    check_fields(&err, "permissions", "fixture", manifest_path, __LINE__);
    nr_error_clear(&err);
    CHECK(chmod(dir, 01777) == 0); /* sticky does not make it safe for us */
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_CONTAINS(nr_error_message(&err), "(mode 1777)");
    nr_error_clear(&err);
    opts.trust_writable = true;
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_OK);
    opts.trust_writable = false;
    CHECK(chmod(dir, 0750) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_OK);

    /* a symlinked library is judged by its target, and says so */
    char target_dir[256], target[300];
    fx_path(&f, "open", target_dir, sizeof target_dir);
    CHECK(mkdir(target_dir, 0755) == 0);
    CHECK(chmod(target_dir, 0755) == 0);
    snprintf(target, sizeof target, "%s/libreal.so", target_dir);
    CHECK(write_file(target, "abc", 3, 0646));
    CHECK(unlink(lib) == 0);
    CHECK(symlink(target, lib) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_CONTAINS(nr_error_message(&err), "resolves to '");
    CHECK_CONTAINS(nr_error_message(&err), "libreal.so') is writable by group or others (mode 0646)");
    nr_error_clear(&err);
    CHECK(chmod(target, 0644) == 0);
    CHECK(chmod(target_dir, 0777) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) != NEMO_RELAY_STATUS_OK);
    CHECK_CONTAINS(nr_error_message(&err), "/open' is writable by group or others (mode 0777)");
    nr_error_clear(&err);
    CHECK(chmod(target_dir, 0755) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_OK);

    /* a dangling symlink reads as a missing library */
    CHECK(unlink(target) == 0);
    CHECK(nr_manifest_check(&m, manifest_path, &opts, NULL, &err) == NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK_CONTAINS(nr_error_message(&err), "does not exist");
    nr_error_clear(&err);

    nr_manifest_clear(&m);
    fx_done(&f);
}

static void test_annotate(void)
{
    nr_error err = NR_ERROR_INIT;
    nr_loader_error_annotate(&err, "id", "p", "m"); /* no-op on an empty error */
    CHECK(err.reason == NULL && err.plugin_id == NULL && err.manifest == NULL);
    nr_error_set(&err, NR_E_PLUGIN_LOAD, "boom");
    nr_loader_error_annotate(&err, "symbol", "p", NULL);
    nr_loader_error_annotate(&err, NULL, NULL, "/m");
    CHECK_STR(err.reason, "symbol");
    CHECK_STR(err.plugin_id, "p");
    CHECK_STR(err.manifest, "/m");
    nr_loader_error_annotate(&err, "dlopen", NULL, NULL);
    CHECK_STR(err.reason, "dlopen");
    nr_error_clear(&err);
    nr_loader_error_annotate(NULL, "x", NULL, NULL);
    CHECK_STR(nr_plugin_kind_name(NR_PLUGIN_KIND_WORKER), "worker");
    CHECK_STR(nr_plugin_kind_name(NR_PLUGIN_KIND_NATIVE), "native");
}

int main(void)
{
    umask(022); /* the permission checks must not depend on the caller's umask */
    NR_RUN(test_parse_valid);
    NR_RUN(test_decode_errors);
    NR_RUN(test_syntax_errors);
    NR_RUN(test_validation_rules);
    NR_RUN(test_resolve);
    NR_RUN(test_read_file);
    NR_RUN(test_check_order);
    NR_RUN(test_library_resolution);
    NR_RUN(test_sha256);
    NR_RUN(test_permissions);
    NR_RUN(test_annotate);
    return NR_TEST_RESULT();
}
