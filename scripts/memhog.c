/*
 * memhog: hold a given amount of written memory, for checkpoint tests.
 *
 * Usage: memhog MIB
 *
 * Allocates MIB mebibytes, writes every page, prints "ready" and waits for
 * a signal. SIGTERM and SIGINT end it with status 0, so "podman stop" does
 * not have to wait for its timeout. The handler is needed because the
 * kernel drops signals sent to PID 1 of a PID namespace unless PID 1 has a
 * handler for them (SIGKILL and SIGSTOP from outside excepted).
 *
 * One 64-bit word in four gets a xorshift64 value and the other three stay
 * zero. Every page is therefore different, and compression keeps about a
 * quarter of the size: a zstd checkpoint archive of "memhog 64" was 17 MiB
 * (Podman 5.4.2, CRIU 4.1.1, Debian 12 x86_64).
 *
 * Build it static so that it runs in an image that has no C library:
 *   gcc -static -O2 -o memhog memhog.c
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB ((size_t)1024 * 1024)

static void handle_stop_signal(int signo)
{
    (void)signo;
    _exit(0);
}

static int parse_mib(const char *text, size_t *mib)
{
    char *end = NULL;
    unsigned long long value;

    if (text[0] == '\0' || text[0] == '-')
        return -1;
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value == 0 || value > SIZE_MAX / MIB)
        return -1;
    *mib = (size_t)value;
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction stop_action;
    uint64_t *words;
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    size_t mib;
    size_t count;
    size_t i;

    if (argc != 2 || parse_mib(argv[1], &mib) != 0) {
        fprintf(stderr, "usage: memhog MIB (a whole number of mebibytes, at least 1)\n");
        return 2;
    }

    memset(&stop_action, 0, sizeof(stop_action));
    stop_action.sa_handler = handle_stop_signal;
    sigaction(SIGTERM, &stop_action, NULL);
    sigaction(SIGINT, &stop_action, NULL);

    words = malloc(mib * MIB);
    if (words == NULL) {
        fprintf(stderr, "memhog: cannot allocate %zu MiB: %s\n", mib, strerror(errno));
        return 1;
    }

    count = mib * MIB / sizeof(*words);
    for (i = 0; i < count; i++) {
        if (i % 4 == 0) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            words[i] = state;
        } else {
            words[i] = 0;
        }
    }

    printf("ready\n");
    fflush(stdout);

    for (;;)
        pause();
}
