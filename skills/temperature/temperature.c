/*
 * temperature — an example of typed skills: the skills are the two plain C
 * functions below, declared in venom.json with their parameter and return
 * types. The core calls them through libffi (core/plugin/ffi.c); the entry
 * point registers nothing. They are exported next to venom_plugin_entry by
 * temperature.map, and the manifest declares them, which is what the
 * one-export check (tests/support/check_exports.sh) accepts.
 */
#include <venom/venom.h>

VENOM_EXPORT double celsius_to_fahrenheit(double c);
VENOM_EXPORT double fahrenheit_to_celsius(double f);

double celsius_to_fahrenheit(double c) { return c * 9.0 / 5.0 + 32.0; }

double fahrenheit_to_celsius(double f) { return (f - 32.0) * 5.0 / 9.0; }

static int32_t temperature_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)host;
    (void)ctx;
    *state = NULL; /* every skill of this pack is typed: nothing to register */
    return VENOM_OK;
}

static const venom_plugin_info INFO = {
    VENOM_PLUGIN_INFO_INIT,
    .min_host_minor = 0,
    .kinds = VENOM_KIND_SKILLS,
    .name = "temperature",
    .version = "0.1.0",
    .license = "MIT",
    .init = temperature_init,
    .shutdown = NULL,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void) { return &INFO; }
