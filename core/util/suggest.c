#include "util/common.h"
#include "util/suggest.h"

/* Levenshtein distance capped at 255, ASCII case folded when fold is set. */
static unsigned distance(const char *a, const char *b, bool fold)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return strcmp(a, b) ? 255 : 0;
    unsigned row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned prev = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cur = row[j];
            int ca = (unsigned char)a[i - 1], cb = (unsigned char)b[j - 1];
            if (fold && ca >= 'A' && ca <= 'Z')
                ca += 'a' - 'A';
            if (fold && cb >= 'A' && cb <= 'Z')
                cb += 'a' - 'A';
            unsigned cost = ca == cb ? 0 : 1;
            unsigned best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb] > 255 ? 255 : row[lb];
}

unsigned suggest_distance(const char *a, const char *b) { return distance(a, b, false); }

const char *suggest_typo(const char *word, const char *const *cands, size_t n)
{
    size_t len = strlen(word);
    unsigned limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    const char *best = NULL;
    unsigned best_d = UINT_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned d = distance(word, cands[i], true);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

size_t suggest_closest(const char *word, const char *const *cands, size_t n, const char **out, size_t max)
{
    size_t len = strlen(word), got = 0;
    unsigned limit = len / 3 > 2 ? (unsigned)(len / 3) : 2;
    unsigned dist[16];
    if (max > ARRAY_SIZE(dist))
        max = ARRAY_SIZE(dist);
    for (size_t i = 0; i < n && max; i++) {
        const char *c = cands[i];
        unsigned d = suggest_distance(word, c);
        if (d > limit && !(len >= 3 && strstr(c, word)))
            continue;
        if (d > limit)
            d = limit + 1; /* substring matches rank after close spellings */
        /* insertion sort into out[] by distance, keeping at most max */
        size_t pos = got;
        while (pos > 0 && dist[pos - 1] > d)
            pos--;
        if (pos >= max)
            continue;
        size_t last = got < max ? got : max - 1;
        for (size_t k = last; k > pos; k--) {
            out[k] = out[k - 1];
            dist[k] = dist[k - 1];
        }
        out[pos] = c;
        dist[pos] = d;
        if (got < max)
            got++;
    }
    return got;
}
