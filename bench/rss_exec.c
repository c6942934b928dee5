/*
 * rss_exec.c — run commands one after another and report their wall time
 * and peak RSS (bench/proc_bench.py's measuring part; GNU time may be absent).
 *
 *     rss_exec -o RESULT_FILE CMD [ARGS...] [';;' CMD [ARGS...]]...
 *
 * Each command is fork + execvp'd with this process's stdin/stdout/stderr
 * and reaped with wait4. RESULT_FILE gets one line: "WALL_NS MAXRSS_KIB",
 * the wall time from the first fork to the last reap (CLOCK_MONOTONIC) and
 * the largest ru_maxrss of the children, each child's own.
 *
 * Why a separate small program: Linux carries a process's RSS high-water mark
 * across exec (exec_mmap keeps the old mm's hiwater in the child's maxrss),
 * so a child forked — or vforked, as posix_spawn does — from a 13 MiB Python
 * reports at least 13 MiB whatever it runs. Forked from this program, the
 * floor is this program's own RSS (about 1 MiB; printed by `rss_exec -o F
 * /bin/true`).
 *
 * Exits with the first failing command's exit code (128 + signal), else 0;
 * 127 when a command cannot be executed, 2 on bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "-o") != 0) {
        fputs("usage: rss_exec -o RESULT_FILE CMD [ARGS...] [';;' CMD [ARGS...]]...\n", stderr);
        return 2;
    }
    const char *result = argv[2];
    long peak = 0;
    uint64_t cpu_ns = 0;
    int rc = 0;
    uint64_t t0 = now_ns();
    for (int i = 3; i < argc && rc == 0;) {
        int j = i;
        while (j < argc && strcmp(argv[j], ";;") != 0)
            j++;
        if (j == i) {
            fputs("rss_exec: empty command\n", stderr);
            return 2;
        }
        argv[j < argc ? j : argc] = NULL; /* argv[argc] is NULL already */
        pid_t pid = fork();
        if (pid < 0) {
            perror("rss_exec: fork");
            return 127;
        }
        if (pid == 0) {
            execvp(argv[i], &argv[i]);
            fprintf(stderr, "rss_exec: cannot run %s: %s\n", argv[i], strerror(errno));
            _exit(127);
        }
        int status = 0;
        struct rusage ru;
        while (wait4(pid, &status, 0, &ru) < 0) {
            if (errno != EINTR) {
                perror("rss_exec: wait4");
                return 127;
            }
        }
        cpu_ns += (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
                  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
        if (ru.ru_maxrss > peak)
            peak = ru.ru_maxrss;
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        i = j + 1;
    }
    uint64_t t1 = now_ns();
    FILE *f = fopen(result, "w");
    if (!f || fprintf(f, "%llu %ld %llu\n", (unsigned long long)(t1 - t0), peak, (unsigned long long)cpu_ns) < 0 || fclose(f) != 0) {
        fprintf(stderr, "rss_exec: cannot write %s: %s\n", result, strerror(errno));
        return 127;
    }
    return rc;
}
