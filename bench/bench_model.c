/*
 * bench_model.c - the traffic model (see bench_model.h).
 *
 * Everything about an account (home city, home address, devices) is a hash
 * of the seed and the account number, so the population needs no memory and
 * every thread and both benchmarks agree on it. Only the choice of the next
 * attempt uses the per-thread generator.
 */
#include "bench/bench_model.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

struct bench_city {
    const char *name;
    uint32_t net;   /* IPv4 network, host order; 0 = IPv6 (Sydney) */
    uint32_t hosts; /* usable host numbers 1..hosts */
    uint32_t weight;
};

/*
 * The fixture cities (data/README.md); weights are shares of home users.
 * Sydney (IPv6) has half of them: the only city with room for an address
 * per household, so half the population looks like real homes to the
 * per-IP velocity tables and half like customers of a carrier NAT.
 */
static const struct bench_city bench_cities[] = {
    {"London", 0xC0000200u, 254, 12},    /* 192.0.2.0/24 */
    {"New York", 0xC6336400u, 254, 12},  /* 198.51.100.0/24 */
    {"Tokyo", 0xCB007100u, 254, 6},      /* 203.0.113.0/24 */
    {"Sydney", 0, 0, 50},                /* 2001:db8::/32 */
    {"Paris", 0xC6120000u, 254, 6},      /* 198.18.0.0/24 */
    {"Sao Paulo", 0xC6120400u, 1022, 8}, /* 198.18.4.0/22 */
    {"Lagos", 0xC6120800u, 254, 2},      /* 198.18.8.0/24 */
    {"Manchester", 0xC6120A00u, 254, 4}, /* 198.18.10.0/24 */
};
#define BENCH_N_CITIES LR_ARRAY_LEN(bench_cities)
#define BENCH_CITY_WEIGHTS 100u
#define BENCH_SYDNEY 3u

/* Credential stuffing comes from these /24s: hosting, VPN, Lagos, unknown. */
static const uint32_t bench_stuffing_nets[] = {
    0xC6120100u, /* 198.18.1.0/24 hosting */
    0xC6120200u, /* 198.18.2.0/24 VPN */
    0xC6120800u, /* 198.18.8.0/24 Lagos */
    0xC6134200u, /* 198.19.66.0/24 unknown */
};

static const char *const bench_spray_passwords[] = {
    "Winter2024!",
    "Password1",
    "Qwerty123!",
    "Welcome1",
};

static const char *const bench_user_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile",
    "MyBankApp/7.2 (iPhone; iOS 17.5)",
};

static const uint32_t bench_default_weights[BENCH_KIND_COUNT] = {80, 5, 8, 4,
                                                                 3};

static const char *const bench_kind_names[BENCH_KIND_COUNT] = {
    "home", "travel", "stuffing", "spray", "flood"};

/* Hash domains, so the facts of one account are independent. */
enum bench_domain {
    BENCH_D_CITY = 1,
    BENCH_D_HOST,
    BENCH_D_NDEV,
    BENCH_D_DEVICE,
    BENCH_D_TYPO,
    BENCH_D_UA,
    BENCH_D_PROBE,
    BENCH_D_FP1,
    BENCH_D_FP2,
};

uint64_t bench_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t bench_rand(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    return bench_mix64(*state);
}

static uint64_t bench_fact(const struct bench_model *m, uint64_t who,
                           enum bench_domain d)
{
    return bench_mix64(m->opts.seed ^
                       bench_mix64(who * 0x100000001b3ull + (uint64_t)d));
}

/* Uniform number in [0, n) from a 64-bit random value. */
static uint32_t bench_below(uint64_t r, uint32_t n)
{
    return (uint32_t)(((r >> 32) * (uint64_t)n) >> 32);
}

const char *bench_kind_name(enum bench_kind k)
{
    if ((unsigned)k >= BENCH_KIND_COUNT) {
        return "?";
    }
    return bench_kind_names[k];
}

int bench_kind_parse(const char *s, enum bench_kind *out)
{
    unsigned k;

    for (k = 0; k < BENCH_KIND_COUNT; k++) {
        if (strcmp(s, bench_kind_names[k]) == 0) {
            *out = (enum bench_kind)k;
            return LR_OK;
        }
    }
    return LR_INVALID;
}

int bench_model_init(struct bench_model *m, const struct bench_model_opts *opts,
                     uint64_t stream)
{
    uint64_t total = 0;
    unsigned k;

    if (opts->accounts == 0 || opts->accounts > BENCH_ACCOUNTS_MAX) {
        return LR_INVALID;
    }
    memset(m, 0, sizeof(*m));
    m->opts = *opts;
    for (k = 0; k < BENCH_KIND_COUNT; k++) {
        total += opts->weights[k];
    }
    if (total == 0) {
        memcpy(m->opts.weights, bench_default_weights, sizeof(m->opts.weights));
        total = 100;
    }
    if (total > 1000000) {
        return LR_INVALID;
    }
    m->weight_total = (uint32_t)total;
    m->stream = stream;
    m->rng = bench_mix64(opts->seed ^ bench_mix64(stream + 1));
    return LR_OK;
}

static void bench_fmt_v4(uint32_t addr, char *buf)
{
    uint32_t be = htonl(addr);

    inet_ntop(AF_INET, &be, buf, BENCH_IP_MAX);
}

static void bench_fmt_v6(const uint8_t addr[16], char *buf)
{
    inet_ntop(AF_INET6, addr, buf, BENCH_IP_MAX);
}

static void bench_put64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* An address in 2001:db8::/32 whose bits 32..95 are @p mid. */
static void bench_sydney_ip(uint64_t mid, uint64_t low, char *buf)
{
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};

    bench_put64(a + 4, mid);
    a[12] = (uint8_t)(low >> 24);
    a[13] = (uint8_t)(low >> 16);
    a[14] = (uint8_t)(low >> 8);
    a[15] = (uint8_t)(low | 1u);
    bench_fmt_v6(a, buf);
}

/* A random address in city @p c. */
static void bench_city_ip(unsigned c, uint64_t r, char *buf)
{
    const struct bench_city *city = &bench_cities[c];

    if (city->net == 0) {
        bench_sydney_ip(bench_mix64(r), r, buf);
        return;
    }
    bench_fmt_v4(city->net + 1 + bench_below(r, city->hosts), buf);
}

static unsigned bench_home_city(const struct bench_model *m, uint64_t who)
{
    uint32_t pick =
        bench_below(bench_fact(m, who, BENCH_D_CITY), BENCH_CITY_WEIGHTS);
    unsigned c;

    for (c = 0; c < BENCH_N_CITIES; c++) {
        if (pick < bench_cities[c].weight) {
            return c;
        }
        pick -= bench_cities[c].weight;
    }
    return 0;
}

static void bench_home_ip(const struct bench_model *m, uint32_t account,
                          char *buf)
{
    unsigned c = bench_home_city(m, account);
    uint64_t h = bench_fact(m, account, BENCH_D_HOST);

    if (c == BENCH_SYDNEY) {
        /* one /64 per account, a stable host in it */
        bench_sydney_ip(h, bench_mix64(h), buf);
        return;
    }
    bench_fmt_v4(
        bench_cities[c].net + 1 + bench_below(h, bench_cities[c].hosts), buf);
}

static uint32_t bench_n_devices(const struct bench_model *m, uint32_t account)
{
    return 1 + bench_below(bench_fact(m, account, BENCH_D_NDEV), 4);
}

static void bench_device(const struct bench_model *m, uint32_t account,
                         uint32_t device, char *buf)
{
    uint64_t h =
        bench_fact(m, ((uint64_t)device << 32) | account, BENCH_D_DEVICE);

    snprintf(buf, BENCH_ID_MAX, "d%016llx", (unsigned long long)h);
}

static void bench_account(uint32_t account, char *buf)
{
    snprintf(buf, BENCH_ID_MAX, "user%u@example.com", account);
}

static void bench_set_password(const struct bench_model *m,
                               struct bench_attempt *a, const char *pw)
{
    size_t len = lr_strlcpy(a->password, pw, sizeof(a->password));
    uint64_t h1 = 0xcbf29ce484222325ull;
    size_t i;

    if (!m->opts.passwords) {
        a->password[0] = '\0';
        a->password_len = 0;
        return;
    }
    if (len >= sizeof(a->password)) {
        len = sizeof(a->password) - 1;
    }
    a->password_len = len;
    for (i = 0; i < len; i++) {
        h1 = (h1 ^ (uint8_t)a->password[i]) * 0x100000001b3ull;
    }
    bench_put64(a->fp, bench_fact(m, h1, BENCH_D_FP1));
    bench_put64(a->fp + 8, bench_fact(m, h1, BENCH_D_FP2));
}

static void bench_clear(struct bench_attempt *a, enum bench_kind kind)
{
    a->kind = kind;
    a->account_id[0] = '\0';
    a->ip[0] = '\0';
    a->device_id[0] = '\0';
    a->user_agent = "";
    a->credential = LR_CRED_UNSPECIFIED;
    a->password[0] = '\0';
    a->password_len = 0;
}

void bench_model_home_login(const struct bench_model *m, uint32_t account,
                            uint32_t device, struct bench_attempt *out)
{
    uint64_t ua = bench_fact(m, account, BENCH_D_UA);

    bench_clear(out, BENCH_KIND_HOME);
    bench_account(account, out->account_id);
    bench_home_ip(m, account, out->ip);
    bench_device(m, account, device, out->device_id);
    out->user_agent =
        bench_user_agents[bench_below(ua, LR_ARRAY_LEN(bench_user_agents))];
    out->credential = LR_CRED_VALID;
}

void bench_model_probe_login(const struct bench_model *m, uint32_t probe,
                             struct bench_attempt *out)
{
    /* London, New York, Tokyo, Paris: IPv4 cities no flood touches */
    static const unsigned cities[] = {0, 1, 2, 4};
    unsigned c = cities[probe % LR_ARRAY_LEN(cities)];
    uint64_t h = bench_fact(m, probe, BENCH_D_PROBE);

    bench_clear(out, BENCH_KIND_HOME);
    snprintf(out->account_id, BENCH_ID_MAX, "probe%u@example.com", probe);
    bench_fmt_v4(bench_cities[c].net + 1 +
                     bench_below(h, bench_cities[c].hosts),
                 out->ip);
    snprintf(out->device_id, BENCH_ID_MAX, "probe-dev-%u", probe);
    out->user_agent =
        bench_user_agents[probe % LR_ARRAY_LEN(bench_user_agents)];
    out->credential = LR_CRED_VALID;
}

static void bench_make_home(struct bench_model *m, struct bench_attempt *out)
{
    uint64_t r = bench_rand(&m->rng);
    uint32_t account = bench_below(r, m->opts.accounts);
    uint32_t roll = (uint32_t)(r & 0xffff) % 100;
    uint32_t device = bench_below(bench_mix64(r), bench_n_devices(m, account));
    char typo[BENCH_PW_MAX];

    bench_model_home_login(m, account, device, out);
    if (roll < 5) {
        /* a new device: a new phone, a cleared browser */
        snprintf(out->device_id, BENCH_ID_MAX, "n%016llx",
                 (unsigned long long)bench_rand(&m->rng));
    }
    if (roll >= 94) {
        snprintf(typo, sizeof(typo), "typo-%08x",
                 (unsigned)bench_fact(m, account, BENCH_D_TYPO));
        out->credential = LR_CRED_INVALID;
        bench_set_password(m, out, typo);
    }
}

static void bench_make_travel(struct bench_model *m, struct bench_attempt *out)
{
    uint64_t r = bench_rand(&m->rng);
    uint32_t account = bench_below(r, m->opts.accounts);
    unsigned home = bench_home_city(m, account);
    unsigned c = bench_below(bench_mix64(r), BENCH_N_CITIES - 1);

    if (c >= home) {
        c++;
    }
    bench_model_home_login(m, account, 0, out);
    out->kind = BENCH_KIND_TRAVEL;
    bench_city_ip(c, bench_rand(&m->rng), out->ip);
    if ((r & 0xff) < 51) {
        /* one in five travellers is on a hotel or borrowed machine */
        snprintf(out->device_id, BENCH_ID_MAX, "n%016llx",
                 (unsigned long long)bench_rand(&m->rng));
    }
}

static void bench_make_stuffing(struct bench_model *m,
                                struct bench_attempt *out)
{
    uint64_t r = bench_rand(&m->rng);
    uint64_t r2 = bench_rand(&m->rng);
    uint32_t net =
        bench_stuffing_nets[bench_below(r, LR_ARRAY_LEN(bench_stuffing_nets))];
    char pw[BENCH_PW_MAX];

    bench_clear(out, BENCH_KIND_STUFFING);
    bench_fmt_v4(net + 1 + bench_below(bench_mix64(r), 254), out->ip);
    if ((r2 & 0xff) < 77) {
        snprintf(out->account_id, BENCH_ID_MAX, "x%08x@example.org",
                 (unsigned)(r2 >> 32));
        out->credential = LR_CRED_UNKNOWN_ACCOUNT;
    } else {
        bench_account(bench_below(r2, m->opts.accounts), out->account_id);
        out->credential = LR_CRED_INVALID;
    }
    if (((r2 >> 8) & 0xff) < 102) {
        /* a few bot devices reused over many accounts */
        snprintf(out->device_id, BENCH_ID_MAX, "bot-%u",
                 (unsigned)((r2 >> 16) & 7));
    }
    out->user_agent = "python-requests/2.31.0";
    if (out->credential == LR_CRED_INVALID) {
        /* the contract takes attempted_password only with INVALID */
        snprintf(pw, sizeof(pw), "leak-%08x", (unsigned)bench_rand(&m->rng));
        bench_set_password(m, out, pw);
    }
}

static void bench_make_spray(struct bench_model *m, struct bench_attempt *out)
{
    uint64_t r = bench_rand(&m->rng);
    uint64_t r2 = bench_rand(&m->rng);
    uint32_t addr;

    bench_clear(out, BENCH_KIND_SPRAY);
    if ((r & 0xff) < 77) {
        addr = 0xC6120300u + 1 + bench_below(r2, 254); /* Tor */
    } else {
        addr = 0xC6130000u + 1 + bench_below(r2, 65534); /* unknown /16 */
    }
    bench_fmt_v4(addr, out->ip);
    bench_account(bench_below(bench_mix64(r), m->opts.accounts),
                  out->account_id);
    out->credential = LR_CRED_INVALID;
    out->user_agent = bench_user_agents[(r >> 8) & 3];
    bench_set_password(
        m, out,
        bench_spray_passwords[bench_below(
            r2 ^ (r2 >> 17), LR_ARRAY_LEN(bench_spray_passwords))]);
}

static void bench_make_flood(struct bench_model *m, struct bench_attempt *out)
{
    /* bits 32..95 are a bijection of (stream, sequence): never repeated */
    uint64_t seq = m->flood_seq++ & ((1ull << 40) - 1);
    uint64_t mid = bench_mix64(((m->stream & 0xffffffu) << 40) | seq);
    uint64_t r = bench_rand(&m->rng);

    bench_clear(out, BENCH_KIND_FLOOD);
    bench_sydney_ip(mid, r, out->ip);
    if (r & (1ull << 40)) {
        bench_account(bench_below(r, m->opts.accounts), out->account_id);
        out->credential = LR_CRED_INVALID;
    } else {
        snprintf(out->account_id, BENCH_ID_MAX, "f%08x@example.net",
                 (unsigned)(r >> 32));
        out->credential = LR_CRED_UNKNOWN_ACCOUNT;
    }
    out->user_agent = "curl/8.1";
}

void bench_model_make(struct bench_model *m, enum bench_kind kind,
                      struct bench_attempt *out)
{
    switch (kind) {
    case BENCH_KIND_HOME:
        bench_make_home(m, out);
        break;
    case BENCH_KIND_TRAVEL:
        bench_make_travel(m, out);
        break;
    case BENCH_KIND_STUFFING:
        bench_make_stuffing(m, out);
        break;
    case BENCH_KIND_SPRAY:
        bench_make_spray(m, out);
        break;
    default:
        bench_make_flood(m, out);
        break;
    }
}

void bench_model_next(struct bench_model *m, struct bench_attempt *out)
{
    uint32_t pick = bench_below(bench_rand(&m->rng), m->weight_total);
    unsigned k;

    for (k = 0; k < BENCH_KIND_COUNT - 1; k++) {
        if (pick < m->opts.weights[k]) {
            break;
        }
        pick -= m->opts.weights[k];
    }
    bench_model_make(m, (enum bench_kind)k, out);
}
