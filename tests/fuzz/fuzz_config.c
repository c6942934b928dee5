/*
 * fuzz_config.c — libFuzzer target for config.yaml (config/config.c),
 * aimed at the routing sections (models:, budget:, privacy:): any bytes
 * give a clean one-line error or a configuration whose catalog loads, and
 * a routing decision over that catalog is well-formed (the choice, when
 * there is one, is a feasible model first in the order).
 */
#include "util/common.h"

#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "route/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char home[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!home[0]) {
        mem_install();
        snprintf(home, sizeof home, "/tmp/venom-fuzz-config.%d", (int)getpid());
        if (mkdir(home, 0700) < 0 && errno != EEXIST)
            __builtin_trap();
        setenv("VENOM_HOME", home, 1);
    }
    char path[96];
    snprintf(path, sizeof path, "%s/config.yaml", home);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    config *c = NULL;
    char *err = NULL;
    int rc = config_load(&c, &err);
    if (rc < 0) {
        if (c || (rc != -ENOMEM && (!err || !*err || strchr(err, '\n'))))
            __builtin_trap();
        mem_free(err);
        return 0;
    }
    route_catalog *cat = NULL;
    if (route_catalog_new(c, &cat, &err) == 0) {
        route_cand cand[64];
        size_t order[64];
        if (cat->n <= 64) {
            route_need need = {.caps = size & 1 ? ROUTE_CAP_TOOLS : 0,
                               .input_tokens = size * 10,
                               .local_only = c->local_only,
                               .budget_left = c->budget_day > 0 ? c->budget_day : -1,
                               .cost_weight = -1,
                               .latency_weight = -1};
            route_decision d = {.c = cand, .order = order};
            if (route_choose(cat, NULL, &need, size, &d) < 0)
                __builtin_trap();
            if (d.choice != ROUTE_NONE && (d.n_order == 0 || d.order[0] != d.choice || cand[d.choice].drop))
                __builtin_trap();
            for (size_t i = 0; i < d.n_order; i++)
                if (cand[d.order[i]].drop != ROUTE_KEPT || !(cand[d.order[i]].draw >= 0 && cand[d.order[i]].draw <= 1))
                    __builtin_trap();
        }
        route_catalog_free(cat);
    }
    mem_free(err);
    config_free(c);
    return 0;
}
