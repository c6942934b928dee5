/*
 * test_abi.c — the SDK 1.0 ABI is frozen: every struct of the live header
 * (sdk/include/venom/venom.h) keeps the size and field offsets of the frozen
 * 1.0 copy (tests/abi/venom_1_0.h), and the LP64 layouts are pinned. A failure
 * here is a compile error: growing a struct at its end needs a new frozen copy
 * for the new minor, never an edit of this one.
 */
#include <stddef.h>
#include <string.h>
#include <venom/venom.h>
#include "../abi/venom_1_0.h"
#include "testsupport.h"

/* venom_skill_desc */
_Static_assert(sizeof(venom_skill_desc) >= sizeof(venom10_skill_desc), "venom_skill_desc shrank");
_Static_assert(offsetof(venom_skill_desc, struct_size) == offsetof(venom10_skill_desc, struct_size), "venom_skill_desc.struct_size moved");
_Static_assert(sizeof(((venom_skill_desc *)0)->struct_size) == sizeof(((venom10_skill_desc *)0)->struct_size), "venom_skill_desc.struct_size changed size");
_Static_assert(offsetof(venom_skill_desc, flags) == offsetof(venom10_skill_desc, flags), "venom_skill_desc.flags moved");
_Static_assert(sizeof(((venom_skill_desc *)0)->flags) == sizeof(((venom10_skill_desc *)0)->flags), "venom_skill_desc.flags changed size");
_Static_assert(offsetof(venom_skill_desc, name) == offsetof(venom10_skill_desc, name), "venom_skill_desc.name moved");
_Static_assert(sizeof(((venom_skill_desc *)0)->name) == sizeof(((venom10_skill_desc *)0)->name), "venom_skill_desc.name changed size");
_Static_assert(offsetof(venom_skill_desc, description) == offsetof(venom10_skill_desc, description), "venom_skill_desc.description moved");
_Static_assert(sizeof(((venom_skill_desc *)0)->description) == sizeof(((venom10_skill_desc *)0)->description), "venom_skill_desc.description changed size");
_Static_assert(offsetof(venom_skill_desc, call) == offsetof(venom10_skill_desc, call), "venom_skill_desc.call moved");
_Static_assert(sizeof(((venom_skill_desc *)0)->call) == sizeof(((venom10_skill_desc *)0)->call), "venom_skill_desc.call changed size");
_Static_assert(offsetof(venom_skill_desc, data) == offsetof(venom10_skill_desc, data), "venom_skill_desc.data moved");
_Static_assert(sizeof(((venom_skill_desc *)0)->data) == sizeof(((venom10_skill_desc *)0)->data), "venom_skill_desc.data changed size");
/* venom_provider_desc */
_Static_assert(sizeof(venom_provider_desc) >= sizeof(venom10_provider_desc), "venom_provider_desc shrank");
_Static_assert(offsetof(venom_provider_desc, struct_size) == offsetof(venom10_provider_desc, struct_size), "venom_provider_desc.struct_size moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->struct_size) == sizeof(((venom10_provider_desc *)0)->struct_size), "venom_provider_desc.struct_size changed size");
_Static_assert(offsetof(venom_provider_desc, caps) == offsetof(venom10_provider_desc, caps), "venom_provider_desc.caps moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->caps) == sizeof(((venom10_provider_desc *)0)->caps), "venom_provider_desc.caps changed size");
_Static_assert(offsetof(venom_provider_desc, name) == offsetof(venom10_provider_desc, name), "venom_provider_desc.name moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->name) == sizeof(((venom10_provider_desc *)0)->name), "venom_provider_desc.name changed size");
_Static_assert(offsetof(venom_provider_desc, description) == offsetof(venom10_provider_desc, description), "venom_provider_desc.description moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->description) == sizeof(((venom10_provider_desc *)0)->description), "venom_provider_desc.description changed size");
_Static_assert(offsetof(venom_provider_desc, data) == offsetof(venom10_provider_desc, data), "venom_provider_desc.data moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->data) == sizeof(((venom10_provider_desc *)0)->data), "venom_provider_desc.data changed size");
_Static_assert(offsetof(venom_provider_desc, open) == offsetof(venom10_provider_desc, open), "venom_provider_desc.open moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->open) == sizeof(((venom10_provider_desc *)0)->open), "venom_provider_desc.open changed size");
_Static_assert(offsetof(venom_provider_desc, close) == offsetof(venom10_provider_desc, close), "venom_provider_desc.close moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->close) == sizeof(((venom10_provider_desc *)0)->close), "venom_provider_desc.close changed size");
_Static_assert(offsetof(venom_provider_desc, chat) == offsetof(venom10_provider_desc, chat), "venom_provider_desc.chat moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->chat) == sizeof(((venom10_provider_desc *)0)->chat), "venom_provider_desc.chat changed size");
_Static_assert(offsetof(venom_provider_desc, embed) == offsetof(venom10_provider_desc, embed), "venom_provider_desc.embed moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->embed) == sizeof(((venom10_provider_desc *)0)->embed), "venom_provider_desc.embed changed size");
_Static_assert(offsetof(venom_provider_desc, list_models) == offsetof(venom10_provider_desc, list_models), "venom_provider_desc.list_models moved");
_Static_assert(sizeof(((venom_provider_desc *)0)->list_models) == sizeof(((venom10_provider_desc *)0)->list_models), "venom_provider_desc.list_models changed size");
/* venom_host_api */
_Static_assert(sizeof(venom_host_api) >= sizeof(venom10_host_api), "venom_host_api shrank");
_Static_assert(offsetof(venom_host_api, struct_size) == offsetof(venom10_host_api, struct_size), "venom_host_api.struct_size moved");
_Static_assert(sizeof(((venom_host_api *)0)->struct_size) == sizeof(((venom10_host_api *)0)->struct_size), "venom_host_api.struct_size changed size");
_Static_assert(offsetof(venom_host_api, abi_major) == offsetof(venom10_host_api, abi_major), "venom_host_api.abi_major moved");
_Static_assert(sizeof(((venom_host_api *)0)->abi_major) == sizeof(((venom10_host_api *)0)->abi_major), "venom_host_api.abi_major changed size");
_Static_assert(offsetof(venom_host_api, abi_minor) == offsetof(venom10_host_api, abi_minor), "venom_host_api.abi_minor moved");
_Static_assert(sizeof(((venom_host_api *)0)->abi_minor) == sizeof(((venom10_host_api *)0)->abi_minor), "venom_host_api.abi_minor changed size");
_Static_assert(offsetof(venom_host_api, alloc) == offsetof(venom10_host_api, alloc), "venom_host_api.alloc moved");
_Static_assert(sizeof(((venom_host_api *)0)->alloc) == sizeof(((venom10_host_api *)0)->alloc), "venom_host_api.alloc changed size");
_Static_assert(offsetof(venom_host_api, realloc) == offsetof(venom10_host_api, realloc), "venom_host_api.realloc moved");
_Static_assert(sizeof(((venom_host_api *)0)->realloc) == sizeof(((venom10_host_api *)0)->realloc), "venom_host_api.realloc changed size");
_Static_assert(offsetof(venom_host_api, free) == offsetof(venom10_host_api, free), "venom_host_api.free moved");
_Static_assert(sizeof(((venom_host_api *)0)->free) == sizeof(((venom10_host_api *)0)->free), "venom_host_api.free changed size");
_Static_assert(offsetof(venom_host_api, log) == offsetof(venom10_host_api, log), "venom_host_api.log moved");
_Static_assert(sizeof(((venom_host_api *)0)->log) == sizeof(((venom10_host_api *)0)->log), "venom_host_api.log changed size");
_Static_assert(offsetof(venom_host_api, set_error) == offsetof(venom10_host_api, set_error), "venom_host_api.set_error moved");
_Static_assert(sizeof(((venom_host_api *)0)->set_error) == sizeof(((venom10_host_api *)0)->set_error), "venom_host_api.set_error changed size");
_Static_assert(offsetof(venom_host_api, register_skill) == offsetof(venom10_host_api, register_skill), "venom_host_api.register_skill moved");
_Static_assert(sizeof(((venom_host_api *)0)->register_skill) == sizeof(((venom10_host_api *)0)->register_skill), "venom_host_api.register_skill changed size");
_Static_assert(offsetof(venom_host_api, register_provider) == offsetof(venom10_host_api, register_provider), "venom_host_api.register_provider moved");
_Static_assert(sizeof(((venom_host_api *)0)->register_provider) == sizeof(((venom10_host_api *)0)->register_provider), "venom_host_api.register_provider changed size");
_Static_assert(offsetof(venom_host_api, set_result) == offsetof(venom10_host_api, set_result), "venom_host_api.set_result moved");
_Static_assert(sizeof(((venom_host_api *)0)->set_result) == sizeof(((venom10_host_api *)0)->set_result), "venom_host_api.set_result changed size");
_Static_assert(offsetof(venom_host_api, progress) == offsetof(venom10_host_api, progress), "venom_host_api.progress moved");
_Static_assert(sizeof(((venom_host_api *)0)->progress) == sizeof(((venom10_host_api *)0)->progress), "venom_host_api.progress changed size");
_Static_assert(offsetof(venom_host_api, cancelled) == offsetof(venom10_host_api, cancelled), "venom_host_api.cancelled moved");
_Static_assert(sizeof(((venom_host_api *)0)->cancelled) == sizeof(((venom10_host_api *)0)->cancelled), "venom_host_api.cancelled changed size");
_Static_assert(offsetof(venom_host_api, stream) == offsetof(venom10_host_api, stream), "venom_host_api.stream moved");
_Static_assert(sizeof(((venom_host_api *)0)->stream) == sizeof(((venom10_host_api *)0)->stream), "venom_host_api.stream changed size");
_Static_assert(offsetof(venom_host_api, json_validate) == offsetof(venom10_host_api, json_validate), "venom_host_api.json_validate moved");
_Static_assert(sizeof(((venom_host_api *)0)->json_validate) == sizeof(((venom10_host_api *)0)->json_validate), "venom_host_api.json_validate changed size");
_Static_assert(offsetof(venom_host_api, fs_open) == offsetof(venom10_host_api, fs_open), "venom_host_api.fs_open moved");
_Static_assert(sizeof(((venom_host_api *)0)->fs_open) == sizeof(((venom10_host_api *)0)->fs_open), "venom_host_api.fs_open changed size");
_Static_assert(offsetof(venom_host_api, secret) == offsetof(venom10_host_api, secret), "venom_host_api.secret moved");
_Static_assert(sizeof(((venom_host_api *)0)->secret) == sizeof(((venom10_host_api *)0)->secret), "venom_host_api.secret changed size");
_Static_assert(offsetof(venom_host_api, getenv) == offsetof(venom10_host_api, getenv), "venom_host_api.getenv moved");
_Static_assert(sizeof(((venom_host_api *)0)->getenv) == sizeof(((venom10_host_api *)0)->getenv), "venom_host_api.getenv changed size");
_Static_assert(offsetof(venom_host_api, http) == offsetof(venom10_host_api, http), "venom_host_api.http moved");
_Static_assert(sizeof(((venom_host_api *)0)->http) == sizeof(((venom10_host_api *)0)->http), "venom_host_api.http changed size");
/* venom_plugin_info */
_Static_assert(sizeof(venom_plugin_info) >= sizeof(venom10_plugin_info), "venom_plugin_info shrank");
_Static_assert(offsetof(venom_plugin_info, magic) == offsetof(venom10_plugin_info, magic), "venom_plugin_info.magic moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->magic) == sizeof(((venom10_plugin_info *)0)->magic), "venom_plugin_info.magic changed size");
_Static_assert(offsetof(venom_plugin_info, struct_size) == offsetof(venom10_plugin_info, struct_size), "venom_plugin_info.struct_size moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->struct_size) == sizeof(((venom10_plugin_info *)0)->struct_size), "venom_plugin_info.struct_size changed size");
_Static_assert(offsetof(venom_plugin_info, abi_major) == offsetof(venom10_plugin_info, abi_major), "venom_plugin_info.abi_major moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->abi_major) == sizeof(((venom10_plugin_info *)0)->abi_major), "venom_plugin_info.abi_major changed size");
_Static_assert(offsetof(venom_plugin_info, abi_minor) == offsetof(venom10_plugin_info, abi_minor), "venom_plugin_info.abi_minor moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->abi_minor) == sizeof(((venom10_plugin_info *)0)->abi_minor), "venom_plugin_info.abi_minor changed size");
_Static_assert(offsetof(venom_plugin_info, min_host_minor) == offsetof(venom10_plugin_info, min_host_minor), "venom_plugin_info.min_host_minor moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->min_host_minor) == sizeof(((venom10_plugin_info *)0)->min_host_minor), "venom_plugin_info.min_host_minor changed size");
_Static_assert(offsetof(venom_plugin_info, reserved) == offsetof(venom10_plugin_info, reserved), "venom_plugin_info.reserved moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->reserved) == sizeof(((venom10_plugin_info *)0)->reserved), "venom_plugin_info.reserved changed size");
_Static_assert(offsetof(venom_plugin_info, kinds) == offsetof(venom10_plugin_info, kinds), "venom_plugin_info.kinds moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->kinds) == sizeof(((venom10_plugin_info *)0)->kinds), "venom_plugin_info.kinds changed size");
_Static_assert(offsetof(venom_plugin_info, reserved2) == offsetof(venom10_plugin_info, reserved2), "venom_plugin_info.reserved2 moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->reserved2) == sizeof(((venom10_plugin_info *)0)->reserved2), "venom_plugin_info.reserved2 changed size");
_Static_assert(offsetof(venom_plugin_info, name) == offsetof(venom10_plugin_info, name), "venom_plugin_info.name moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->name) == sizeof(((venom10_plugin_info *)0)->name), "venom_plugin_info.name changed size");
_Static_assert(offsetof(venom_plugin_info, version) == offsetof(venom10_plugin_info, version), "venom_plugin_info.version moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->version) == sizeof(((venom10_plugin_info *)0)->version), "venom_plugin_info.version changed size");
_Static_assert(offsetof(venom_plugin_info, license) == offsetof(venom10_plugin_info, license), "venom_plugin_info.license moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->license) == sizeof(((venom10_plugin_info *)0)->license), "venom_plugin_info.license changed size");
_Static_assert(offsetof(venom_plugin_info, init) == offsetof(venom10_plugin_info, init), "venom_plugin_info.init moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->init) == sizeof(((venom10_plugin_info *)0)->init), "venom_plugin_info.init changed size");
_Static_assert(offsetof(venom_plugin_info, shutdown) == offsetof(venom10_plugin_info, shutdown), "venom_plugin_info.shutdown moved");
_Static_assert(sizeof(((venom_plugin_info *)0)->shutdown) == sizeof(((venom10_plugin_info *)0)->shutdown), "venom_plugin_info.shutdown changed size");

/* Pinned LP64 (x86_64, aarch64) sizes of the 1.0 layouts. */
#if defined(__LP64__)
_Static_assert(sizeof(venom10_skill_desc) == 40, "1.0 skill descriptor is 40 bytes");
_Static_assert(sizeof(venom10_provider_desc) == 72, "1.0 provider descriptor is 72 bytes");
_Static_assert(sizeof(venom10_host_api) == 136, "1.0 host table is 136 bytes");
_Static_assert(sizeof(venom10_plugin_info) == 64, "1.0 info block is 64 bytes");
#endif

/* Values that plugins compile in must never change within major 1. */
_Static_assert(VENOM_ABI_MAJOR == VENOM10_ABI_MAJOR, "major changed");
_Static_assert(VENOM_ABI_MINOR >= VENOM10_ABI_MINOR, "minor went backwards");
_Static_assert(VENOM_PLUGIN_MAGIC == VENOM10_PLUGIN_MAGIC, "magic changed");
_Static_assert(VENOM_E_INVAL == VENOM10_E_INVAL && VENOM_E_NOMEM == VENOM10_E_NOMEM &&
                   VENOM_E_NOTFOUND == VENOM10_E_NOTFOUND && VENOM_E_PERM == VENOM10_E_PERM &&
                   VENOM_E_IO == VENOM10_E_IO && VENOM_E_STATE == VENOM10_E_STATE &&
                   VENOM_E_UNSUPPORTED == VENOM10_E_UNSUPPORTED && VENOM_E_CANCELLED == VENOM10_E_CANCELLED &&
                   VENOM_E_TIMEOUT == VENOM10_E_TIMEOUT && VENOM_E_TOOBIG == VENOM10_E_TOOBIG &&
                   VENOM_E_VERSION == VENOM10_E_VERSION && VENOM_E_EXISTS == VENOM10_E_EXISTS &&
                   VENOM_E_NET == VENOM10_E_NET && VENOM_E_FAILED == VENOM10_E_FAILED &&
                   VENOM_E_INTERNAL == VENOM10_E_INTERNAL,
               "error codes changed");
_Static_assert(VENOM_KIND_SKILLS == VENOM10_KIND_SKILLS && VENOM_KIND_PROVIDER == VENOM10_KIND_PROVIDER,
               "kinds changed");
_Static_assert(VENOM_FS_READ == VENOM10_FS_READ && VENOM_FS_WRITE == VENOM10_FS_WRITE &&
                   VENOM_FS_CREATE == VENOM10_FS_CREATE && VENOM_FS_TRUNC == VENOM10_FS_TRUNC &&
                   VENOM_FS_DIRECTORY == VENOM10_FS_DIRECTORY && VENOM_FS_EXCL == VENOM10_FS_EXCL,
               "fs flags changed");

#include "plugin/host.h"

/* The host's table says its own size and version, and VENOM_HOST_HAS works
 * against a table of the 1.0 size and against a shorter (older) one. */
static void test_host_table(void **state)
{
    (void)state;
    const venom_host_api *h = host_api();
    assert_int_equal(h->struct_size, sizeof(venom_host_api));
    assert_int_equal(h->abi_major, VENOM_ABI_MAJOR);
    assert_int_equal(h->abi_minor, VENOM_ABI_MINOR);
    assert_true(VENOM_HOST_HAS(h, http));
    assert_true(VENOM_HOST_HAS(h, alloc));
    venom_host_api older;
    memcpy(&older, h, sizeof older);
    older.struct_size = (uint32_t)offsetof(venom_host_api, fs_open);
    assert_true(VENOM_HOST_HAS(&older, json_validate));
    assert_false(VENOM_HOST_HAS(&older, fs_open));
    assert_false(VENOM_HOST_HAS(&older, http));
    older.struct_size = sizeof older;
    older.http = NULL;
    assert_false(VENOM_HOST_HAS(&older, http));
    assert_false(VENOM_HOST_HAS((const venom_host_api *)NULL, alloc));
    assert_string_equal(VENOM_ENTRY_SYMBOL, "venom_plugin_entry");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
