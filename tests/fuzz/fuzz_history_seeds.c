/*
 * fuzz_history_seeds.c - writes the seed corpus of fuzz_history: batch
 * bodies made by the store's own encoder (store_hist_pack, then
 * store_hist_batch_add and _seal), so the seeds cannot drift from what the
 * store writes the way hand-made bytes could.
 *
 *   fuzz_history_seeds DIR     (tests/fuzz/corpus/fuzz_history)
 *
 * Built with the fuzz targets (-DLR_FUZZ=ON) but not run by the build: the
 * seeds are committed, so rerun it after a change to the batch format.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED_T0 1700000000000LL

static struct store_hist_batch *seed_batch;

static void seed_login(struct store_login *l, const char *account, int64_t ts)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->account_id, sizeof(l->account_id), "%s", account);
    l->ts_ms = ts;
    l->ip_family = 4;
    l->ip[0] = 192;
    l->ip[1] = 0;
    l->ip[2] = 2;
    l->ip[3] = 10;
    l->credential = LR_CRED_VALID;
    l->action = LR_ACTION_ALLOW;
}

static int seed_add(const struct store_login *l)
{
    struct store_hist_rec *r = NULL;
    int rc;

    rc = store_hist_pack(l, &r);
    if (rc)
        return rc;
    if (!store_hist_batch_fits(seed_batch, r)) {
        free(r);
        return LR_FULL;
    }
    store_hist_batch_add(seed_batch, r, 1);
    free(r);
    return LR_OK;
}

/* Seals the batch into DIR/NAME, cut to @p cut bytes when not 0. */
static int seed_write(const char *dir, const char *name, size_t cut)
{
    struct store_hist_sealed s;
    char path[4096];
    size_t len;
    FILE *f;

    store_hist_batch_seal(seed_batch, &s);
    len = cut != 0 && cut < s.body_len ? cut : s.body_len;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(s.body, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fuzz_history_seeds: cannot write %s\n", path);
        return LR_IO;
    }
    printf("%s: %u rows, %zu bytes\n", path, s.n, len);
    store_hist_batch_reset(seed_batch);
    return LR_OK;
}

/* Two users, IPv4 and IPv6, with and without place, device and reasons. */
static int seed_mixed(void)
{
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                   0,    0,    0,    0,    0, 0, 0, 1};
    struct store_login l;
    int rc;

    seed_login(&l, "alice", SEED_T0);
    snprintf(l.request_id, sizeof(l.request_id), "req-1");
    snprintf(l.device_id, sizeof(l.device_id), "device-1");
    snprintf(l.country, sizeof(l.country), "GB");
    snprintf(l.city, sizeof(l.city), "London");
    l.has_location = true;
    l.lat = 51.5072;
    l.lon = -0.1276;
    l.asn = 13335;
    l.score = 12;
    rc = seed_add(&l);
    seed_login(&l, "bob@example.com", SEED_T0 + 1500);
    l.ip_family = 6;
    memcpy(l.ip, v6, 16);
    l.credential = LR_CRED_INVALID;
    l.action = LR_ACTION_CHALLENGE_2FA;
    l.score = 64;
    snprintf(l.country, sizeof(l.country), "SG");
    l.asn = 4294967295u;
    snprintf(l.reasons[0], sizeof(l.reasons[0]), "new_device");
    snprintf(l.reasons[1], sizeof(l.reasons[1]), "impossible_travel");
    l.n_reasons = 2;
    if (rc == 0)
        rc = seed_add(&l);
    seed_login(&l, "alice", SEED_T0 + 30000);
    snprintf(l.device_id, sizeof(l.device_id), "device-1");
    l.action = LR_ACTION_LOCK;
    l.score = 100;
    if (rc == 0)
        rc = seed_add(&l);
    seed_login(&l, "j\xc3\xb6rg", SEED_T0 - 29000);
    if (rc == 0)
        rc = seed_add(&l);
    return rc;
}

/* One row with every string at its longest. */
static int seed_longest(void)
{
    struct store_login l;

    seed_login(&l, "", SEED_T0);
    memset(l.account_id, 'a', STORE_ID_MAX - 1);
    memset(l.device_id, 'd', STORE_ID_MAX - 1);
    memset(l.request_id, 'r', sizeof(l.request_id) - 1);
    memset(l.city, 'c', sizeof(l.city) - 1);
    for (size_t i = 0; i < STORE_REASONS_MAX; i++)
        memset(l.reasons[i], 'A' + (int)(i % 26), sizeof(l.reasons[i]) - 1);
    l.n_reasons = STORE_REASONS_MAX;
    return seed_add(&l);
}

/* Many short rows, one account per ten, a second apart. */
static int seed_many(uint32_t rows)
{
    struct store_login l;
    char account[32];
    int rc = 0;

    for (uint32_t i = 0; rc == 0 && i < rows; i++) {
        snprintf(account, sizeof(account), "user%u", i / 10);
        seed_login(&l, account, SEED_T0 + (int64_t)i * 100);
        l.ip[3] = (uint8_t)i;
        l.score = (int)(i % 101);
        rc = seed_add(&l);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct store_login l;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    if (store_hist_batch_new(&seed_batch) != LR_OK)
        return 1;
    rc = seed_write(argv[1], "empty.bin", 0); /* a batch of no rows */
    seed_login(&l, "a", 0);
    if (rc == 0)
        rc = seed_add(&l);
    if (rc == 0)
        rc = seed_write(argv[1], "one-row.bin", 0);
    if (rc == 0)
        rc = seed_mixed();
    if (rc == 0)
        rc = seed_write(argv[1], "mixed.bin", 0);
    if (rc == 0)
        rc = seed_mixed();
    if (rc == 0) /* cut inside the second row's strings */
        rc = seed_write(argv[1], "mixed-truncated.bin", 200);
    if (rc == 0)
        rc = seed_longest();
    if (rc == 0)
        rc = seed_write(argv[1], "longest-strings.bin", 0);
    if (rc == 0)
        rc = seed_many(40);
    if (rc == 0)
        rc = seed_write(argv[1], "forty-rows.bin", 0);
    store_hist_batch_free(seed_batch);
    if (rc) {
        fprintf(stderr, "fuzz_history_seeds: %s\n", lr_strerror(rc));
        return 1;
    }
    return 0;
}
