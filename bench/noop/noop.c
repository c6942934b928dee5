/*
 * noop — the benchmark's skill pack (bench/sandbox_call.c): one skill,
 * `echo`, that returns its arguments and does nothing else, so a timed call
 * measures the cost of calling, not of the skill. Built under the build
 * directory only (NOINSTALL); not a test fixture.
 */
#include <stddef.h>
#include <stdint.h>

#include <venom/venom.h>

static const venom_host_api *H;

static int32_t noop_echo(venom_ctx *call, const char *args, void *data)
{
    (void)data;
    return H->set_result(call, args, (size_t)-1);
}

static int32_t noop_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    H = host;
    *state = NULL;
    venom_skill_desc d = {.struct_size = sizeof d, .name = "echo", .call = noop_echo};
    return host->register_skill(ctx, &d);
}

static const venom_plugin_info INFO = {
    VENOM_PLUGIN_INFO_INIT,
    .min_host_minor = 0,
    .kinds = VENOM_KIND_SKILLS,
    .name = "noop",
    .version = "1.0.0",
    .license = "MIT",
    .init = noop_init,
    .shutdown = NULL,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void) { return &INFO; }
