/*
 * cmd_doctor.c — `venom doctor`: which sandbox layers this machine offers
 * (core/sandbox/probe.h) and the library versions venom runs with.
 */
#include "util/common.h"
#include "cli/cli.h"
#include "sandbox/probe.h"

#include <jansson.h>

static const char doctor_usage[] =
    "usage: venom doctor [--json]\n"
    "\n"
    "Report what this machine supports for sandboxing untrusted skills (user and\n"
    "other namespaces, landlock, seccomp, cgroups, no_new_privs, modern syscalls),\n"
    "the library versions in use, and which sandbox layers will be active.\n"
    "\n"
    "  --json   print one JSON object instead of text\n"
    "  --help   show this help\n";

static const char *yes_no(bool b)
{
    return b ? "yes" : "no";
}

static const char *level_name(probe_level l)
{
    return l == PROBE_FULL ? "full" : l == PROBE_DEGRADED ? "degraded" : "none";
}

/* One aligned "name  status  detail" line. */
static void row(FILE *f, const char *name, const char *status, const char *detail)
{
    if (detail && *detail)
        fprintf(f, "%-18s%-8s%s\n", name, status, detail);
    else
        fprintf(f, "%-18s%s\n", name, status);
}

static void print_text(FILE *f, const probe_report *r, const probe_lib *libs, size_t nlibs)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s (%s)", r->kernel[0] ? r->kernel : "unknown", r->arch[0] ? r->arch : "unknown");
    row(f, "kernel", tmp, NULL);
    row(f, "running as root", yes_no(r->is_root), NULL);
    row(f, "user namespaces", yes_no(r->userns == 1), r->userns == 1 ? "" : r->userns_reason);

    struct {
        const char *name;
        bool ok;
    } ns[] = {{"mount", r->mountns}, {"pid", r->pidns}, {"net", r->netns},
              {"ipc", r->ipcns},     {"uts", r->utsns}, {"cgroup", r->cgroupns}};
    bool all = true;
    size_t off = 0;
    tmp[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
        all = all && ns[i].ok;
        if (ns[i].ok && off < sizeof tmp)
            off += (size_t)snprintf(tmp + off, sizeof tmp - off, "%s%s", off ? " " : "", ns[i].name);
    }
    if (!tmp[0])
        snprintf(tmp, sizeof tmp, "%s", "none");
    char detail[1024];
    if (all)
        snprintf(detail, sizeof detail, "%s%s", tmp, r->ns_need_userns ? " (inside a user namespace)" : "");
    else
        snprintf(detail, sizeof detail, "%s; %s", tmp, r->ns_reason);
    row(f, "namespaces", all ? "yes" : "no", detail);

    if (r->landlock_abi > 0) {
        snprintf(tmp, sizeof tmp, "ABI %d", r->landlock_abi);
        row(f, "landlock", tmp, NULL);
    } else {
        row(f, "landlock", "no", r->landlock_reason);
    }
    snprintf(detail, sizeof detail, "libseccomp %s%s%s", r->seccomp_lib[0] ? r->seccomp_lib : "unknown",
             r->seccomp ? "" : "; ", r->seccomp ? "" : r->seccomp_reason);
    row(f, "seccomp", yes_no(r->seccomp), detail);
    row(f, "no_new_privs", yes_no(r->no_new_privs), NULL);
    if (r->cgroup_version) {
        snprintf(tmp, sizeof tmp, "v%d", r->cgroup_version);
        snprintf(detail, sizeof detail, "%s%s%s", r->cgroup_path[0] ? r->cgroup_path : "(path unknown)",
                 r->cgroup_writable ? ", writable" : "; ", r->cgroup_writable ? "" : r->cgroup_reason);
        row(f, "cgroups", tmp, detail);
    } else {
        row(f, "cgroups", "no", r->cgroup_reason);
    }
    row(f, "openat2", yes_no(r->openat2), NULL);
    row(f, "pidfd_open", yes_no(r->pidfd), NULL);
    row(f, "close_range", yes_no(r->close_range), NULL);
    fputs("libraries\n", f);
    for (size_t i = 0; i < nlibs; i++) {
        snprintf(tmp, sizeof tmp, "  %s", libs[i].name);
        row(f, tmp, libs[i].version, NULL);
    }
    row(f, "sandbox", probe_summary(r), NULL);
}

/* json_string that never fails on odd bytes (kernel strings are ASCII). */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    return j ? j : json_string("?");
}

static json_t *report_json(const probe_report *r, const probe_lib *libs, size_t nlibs)
{
    json_t *ns = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b}", "mount", r->mountns, "pid", r->pidns, "net",
                           r->netns, "ipc", r->ipcns, "uts", r->utsns, "cgroup", r->cgroupns);
    json_t *cg = json_pack("{s:i, s:b, s:o, s:o}", "version", r->cgroup_version, "writable", r->cgroup_writable,
                           "path", jstr(r->cgroup_path), "reason", jstr(r->cgroup_reason));
    json_t *lj = json_object();
    for (size_t i = 0; lj && i < nlibs; i++)
        json_object_set_new(lj, libs[i].name, jstr(libs[i].version));
    json_t *o = json_object();
    if (!o || !ns || !cg || !lj) {
        json_decref(ns);
        json_decref(cg);
        json_decref(lj);
        json_decref(o);
        return NULL;
    }
    int bad = 0;
    bad |= json_object_set_new(o, "kernel", jstr(r->kernel));
    bad |= json_object_set_new(o, "arch", jstr(r->arch));
    bad |= json_object_set_new(o, "is_root", json_boolean(r->is_root));
    bad |= json_object_set_new(o, "userns", json_boolean(r->userns == 1));
    bad |= json_object_set_new(o, "userns_reason", jstr(r->userns_reason));
    bad |= json_object_set_new(o, "namespaces", ns);
    bad |= json_object_set_new(o, "ns_need_userns", json_boolean(r->ns_need_userns));
    bad |= json_object_set_new(o, "ns_reason", jstr(r->ns_reason));
    bad |= json_object_set_new(o, "landlock_abi", json_integer(r->landlock_abi));
    bad |= json_object_set_new(o, "landlock_reason", jstr(r->landlock_reason));
    bad |= json_object_set_new(o, "seccomp", json_boolean(r->seccomp));
    bad |= json_object_set_new(o, "seccomp_reason", jstr(r->seccomp_reason));
    bad |= json_object_set_new(o, "seccomp_lib", jstr(r->seccomp_lib));
    bad |= json_object_set_new(o, "cgroup", cg);
    bad |= json_object_set_new(o, "no_new_privs", json_boolean(r->no_new_privs));
    bad |= json_object_set_new(o, "openat2", json_boolean(r->openat2));
    bad |= json_object_set_new(o, "pidfd", json_boolean(r->pidfd));
    bad |= json_object_set_new(o, "close_range", json_boolean(r->close_range));
    bad |= json_object_set_new(o, "libraries", lj);
    bad |= json_object_set_new(o, "sandbox", jstr(level_name(probe_sandbox_level(r))));
    bad |= json_object_set_new(o, "summary", jstr(probe_summary(r)));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int cmd_doctor(cli *c, int argc, char **argv)
{
    FILE *out = c->out ? c->out : stdout, *err = c->err ? c->err : stderr;
    bool json = c->json;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(doctor_usage, out);
            return CLI_EXIT_OK;
        } else {
            fprintf(err, "venom doctor: %s '%s' (try 'venom doctor --help')\n",
                    argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }

    probe_report r;
    probe_lib libs[PROBE_MAX_LIBS];
    (void)probe_run(&r);
    size_t nlibs = probe_libs(libs, ARRAY_SIZE(libs));
    if (!json) {
        print_text(out, &r, libs, nlibs);
        return fflush(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    }
    json_t *o = report_json(&r, libs, nlibs);
    if (!o) {
        fprintf(err, "venom doctor: out of memory building the JSON report\n");
        return CLI_EXIT_INTERNAL;
    }
    int rc = json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    fputc('\n', out);
    return rc == 0 && fflush(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}
