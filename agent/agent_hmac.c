/*
 * agent_hmac.c - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the
 * decision log's account pseudonyms.
 *
 * The agent otherwise has no use for a crypto library (gRPC brings its own
 * TLS), so forty lines of a well-specified hash are cheaper than a new
 * runtime dependency. The unit test checks the FIPS 180-2 and RFC 4231
 * vectors. Intermediate key material is wiped with lr_wipe().
 */
#include "agent/agent.h"

#include <string.h>

#define SHA_BLOCK 64

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t sha_rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t sha_load32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static void sha_store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One 64-byte block into the state (FIPS 180-4, 6.2.2). */
static void sha_block(uint32_t h[8], const uint8_t *blk)
{
    uint32_t w[64];
    uint32_t s[8];

    for (int t = 0; t < 16; t++)
        w[t] = sha_load32(blk + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 =
            sha_rotr(w[t - 15], 7) ^ sha_rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 =
            sha_rotr(w[t - 2], 17) ^ sha_rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    memcpy(s, h, sizeof(s));
    for (int t = 0; t < 64; t++) {
        uint32_t e1 =
            sha_rotr(s[4], 6) ^ sha_rotr(s[4], 11) ^ sha_rotr(s[4], 25);
        uint32_t ch = (s[4] & s[5]) ^ (~s[4] & s[6]);
        uint32_t t1 = s[7] + e1 + ch + sha_k[t] + w[t];
        uint32_t e0 =
            sha_rotr(s[0], 2) ^ sha_rotr(s[0], 13) ^ sha_rotr(s[0], 22);
        uint32_t maj = (s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]);
        memmove(s + 1, s, 7 * sizeof(s[0]));
        s[4] += t1;
        s[0] = t1 + e0 + maj;
    }
    for (int i = 0; i < 8; i++)
        h[i] += s[i];
    lr_wipe(w, sizeof(w));
    lr_wipe(s, sizeof(s));
}

void agent_sha256_init(struct agent_sha256 *c)
{
    static const uint32_t iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };

    memcpy(c->h, iv, sizeof(iv));
    c->total = 0;
    c->n = 0;
}

void agent_sha256_update(struct agent_sha256 *c, const void *data, size_t len)
{
    const uint8_t *p = data;

    c->total += len;
    if (c->n > 0) {
        size_t k = SHA_BLOCK - c->n < len ? SHA_BLOCK - c->n : len;
        memcpy(c->buf + c->n, p, k);
        c->n += k;
        p += k;
        len -= k;
        if (c->n < SHA_BLOCK)
            return;
        sha_block(c->h, c->buf);
        c->n = 0;
    }
    for (; len >= SHA_BLOCK; p += SHA_BLOCK, len -= SHA_BLOCK)
        sha_block(c->h, p);
    memcpy(c->buf, p, len);
    c->n = len;
}

void agent_sha256_final(struct agent_sha256 *c, uint8_t out[AGENT_SHA256_LEN])
{
    uint64_t bits = c->total * 8;

    c->buf[c->n++] = 0x80;
    if (c->n > SHA_BLOCK - 8) {
        memset(c->buf + c->n, 0, SHA_BLOCK - c->n);
        sha_block(c->h, c->buf);
        c->n = 0;
    }
    memset(c->buf + c->n, 0, SHA_BLOCK - 8 - c->n);
    for (int i = 0; i < 8; i++)
        c->buf[SHA_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha_block(c->h, c->buf);
    for (int i = 0; i < 8; i++)
        sha_store32(out + 4 * i, c->h[i]);
    lr_wipe(c, sizeof(*c));
}

void agent_hmac_init(struct agent_hmac *h, const uint8_t *key, size_t key_len)
{
    uint8_t k0[SHA_BLOCK] = {0};
    uint8_t pad[SHA_BLOCK];
    struct agent_sha256 c;

    /* K0: the key, hashed first when longer than a block, zero-padded */
    if (key_len > SHA_BLOCK) {
        agent_sha256_init(&c);
        agent_sha256_update(&c, key, key_len);
        agent_sha256_final(&c, k0);
    } else if (key_len > 0) {
        memcpy(k0, key, key_len);
    }
    for (int i = 0; i < SHA_BLOCK; i++)
        pad[i] = k0[i] ^ 0x36;
    agent_sha256_init(&h->inner);
    agent_sha256_update(&h->inner, pad, sizeof(pad));
    for (int i = 0; i < SHA_BLOCK; i++)
        pad[i] = k0[i] ^ 0x5c;
    agent_sha256_init(&h->outer);
    agent_sha256_update(&h->outer, pad, sizeof(pad));
    lr_wipe(k0, sizeof(k0));
    lr_wipe(pad, sizeof(pad));
}

void agent_hmac_mac(const struct agent_hmac *h, const void *msg, size_t len,
                    uint8_t out[AGENT_SHA256_LEN])
{
    uint8_t inner[AGENT_SHA256_LEN];
    struct agent_sha256 c = h->inner;

    agent_sha256_update(&c, msg, len);
    agent_sha256_final(&c, inner);
    c = h->outer;
    agent_sha256_update(&c, inner, sizeof(inner));
    agent_sha256_final(&c, out);
    lr_wipe(inner, sizeof(inner));
}

void agent_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg,
                       size_t len, uint8_t out[AGENT_SHA256_LEN])
{
    struct agent_hmac h;

    agent_hmac_init(&h, key, key_len);
    agent_hmac_mac(&h, msg, len, out);
    lr_wipe(&h, sizeof(h));
}
