/*
 * worker_main.c — venom-worker, the executable a sandboxed worker becomes.
 * The supervisor (sandbox.c) has already set up namespaces, the filesystem
 * view, landlock, limits, no_new_privs and dropped capabilities, and passes
 * the IPC socket as the descriptor number in argv[1]. Everything else is in
 * sandbox_worker_main().
 */
#include "util/common.h"

#include "sandbox/sandbox.h"

int main(int argc, char **argv)
{
    char *end = NULL;
    long fd = argc == 3 ? strtol(argv[1], &end, 10) : -1;
    if (fd < 0 || fd > 1024 || !end || *end) {
        fputs("venom-worker: internal program of venom; not for direct use\n", stderr);
        return 2;
    }
    return sandbox_worker_main((int)fd, argv[2]);
}
