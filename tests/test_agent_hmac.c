/*
 * test_agent_hmac.c - SHA-256 against the FIPS 180-2 examples, HMAC-SHA256
 * against RFC 4231 (test cases 1 to 7), the incremental interface at every
 * split point, account pseudonyms, and the pseudonym key file (created 0600
 * and reused; a configured file never created; refused when short, huge,
 * not a regular file or readable by others). Real files in a fresh
 * temporary directory.
 */
#include "agent/agent.h"

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tmpdir.h"

/* ---- helpers ------------------------------------------------------------- */

static void unhex(const char *hex, uint8_t *out, size_t *len_out)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *len_out = n;
}

static void tohex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void assert_sha256(const void *msg, size_t len, const char *want)
{
    struct agent_sha256 c;
    uint8_t d[AGENT_SHA256_LEN];
    char hex[2 * AGENT_SHA256_LEN + 1];

    agent_sha256_init(&c);
    agent_sha256_update(&c, msg, len);
    agent_sha256_final(&c, d);
    tohex(d, sizeof(d), hex);
    assert_string_equal(hex, want);
}

/* RFC 4231 section 4: key and data in hex, the MAC (maybe truncated). */
static void assert_hmac(const char *key_hex, const char *data_hex,
                        const char *want)
{
    uint8_t key[256], data[256], mac[AGENT_SHA256_LEN];
    char hex[2 * AGENT_SHA256_LEN + 1];
    size_t klen, dlen;

    unhex(key_hex, key, &klen);
    unhex(data_hex, data, &dlen);
    agent_hmac_sha256(key, klen, data, dlen, mac);
    tohex(mac, sizeof(mac), hex);
    assert_memory_equal(hex, want, strlen(want));
}

static char tmpdir[PATH_MAX];

static int setup_dir(void **state)
{
    (void)state;
    assert_int_equal(test_tmpdir_make(tmpdir, sizeof(tmpdir), "hmac"), 0);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    assert_int_equal(test_tmpdir_remove(tmpdir), 0);
    return 0;
}

static void write_file(const char *path, const void *data, size_t len,
                       mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* ---- SHA-256 ------------------------------------------------------------- */

static void test_agent_sha256_fips_vectors(void **state)
{
    (void)state;
    assert_sha256("", 0,
                  "e3b0c44298fc1c149afbf4c8996fb924"
                  "27ae41e4649b934ca495991b7852b855");
    assert_sha256("abc", 3,
                  "ba7816bf8f01cfea414140de5dae2223"
                  "b00361a396177a9cb410ff61f20015ad");
    assert_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  56,
                  "248d6a61d20638b8e5c026930c3e6039"
                  "a33ce45964ff2167f6ecedd419db06c1");
    assert_sha256(
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
        "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        112,
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_agent_sha256_million_a(void **state)
{
    static char chunk[997]; /* a prime, so blocks never line up */
    struct agent_sha256 c;
    uint8_t d[AGENT_SHA256_LEN];
    char hex[2 * AGENT_SHA256_LEN + 1];
    size_t left = 1000000;

    (void)state;
    memset(chunk, 'a', sizeof(chunk));
    agent_sha256_init(&c);
    while (left > 0) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        agent_sha256_update(&c, chunk, n);
        left -= n;
    }
    agent_sha256_final(&c, d);
    tohex(d, sizeof(d), hex);
    assert_string_equal(
        hex,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_agent_sha256_update_every_split(void **state)
{
    uint8_t msg[200], whole[AGENT_SHA256_LEN], parts[AGENT_SHA256_LEN];
    struct agent_sha256 c;

    (void)state;
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    agent_sha256_init(&c);
    agent_sha256_update(&c, msg, sizeof(msg));
    agent_sha256_final(&c, whole);
    for (size_t a = 0; a <= sizeof(msg); a += 5) {
        for (size_t b = a; b <= sizeof(msg); b += 13) {
            agent_sha256_init(&c);
            agent_sha256_update(&c, msg, a);
            agent_sha256_update(&c, msg + a, b - a);
            agent_sha256_update(&c, msg + b, sizeof(msg) - b);
            agent_sha256_final(&c, parts);
            assert_memory_equal(whole, parts, sizeof(whole));
        }
    }
}

/* ---- HMAC-SHA256 (RFC 4231) ---------------------------------------------- */

static void test_agent_hmac_sha256_rfc4231(void **state)
{
    char key131[2 * 131 + 1];

    (void)state;
    /* 1 */
    assert_hmac("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
                "b0344c61d8db38535ca8afceaf0bf12b"
                "881dc200c9833da726e9376c2e32cff7");
    /* 2: a key shorter than the block */
    assert_hmac("4a656665",
                "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
                "5bdcc146bf60754e6a042426089575c7"
                "5a003f089d2739839dec58b964ec3843");
    /* 3 */
    assert_hmac("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "dddddddddddddddddddddddddddddddddddddddddddddddddd"
                "dddddddddddddddddddddddddddddddddddddddddddddddddd",
                "773ea91e36800e46854db8ebd09181a7"
                "2959098b3ef8c122d9635514ced565fe");
    /* 4 */
    assert_hmac("0102030405060708090a0b0c0d0e0f10111213141516171819",
                "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
                "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
                "82558a389a443c0ea4cc819899f2083a"
                "85f0faa3e578f8077a2e3ff46729665b");
    /* 5: truncated to 128 bits */
    assert_hmac("0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
                "546573742057697468205472756e636174696f6e",
                "a3b6167473100ee06e0c796c2955552b");
    /* 6: a key longer than the block is hashed first */
    memset(key131, 'a', 2 * 131);
    key131[2 * 131] = '\0';
    assert_hmac(key131,
                "54657374205573696e67204c6172676572205468616e20426c6f636b"
                "2d53697a65204b6579202d2048617368204b6579204669727374",
                "60e431591ee0b67f0d8a26aacbf5b77f"
                "8e0bc6213728c5140546040f0ee37f54");
    /* 7: and data longer than the block */
    assert_hmac(key131,
                "5468697320697320612074657374207573696e672061206c61726765"
                "72207468616e20626c6f636b2d73697a65206b657920616e64206120"
                "6c6172676572207468616e20626c6f636b2d73697a6520646174612e"
                "20546865206b6579206e6565647320746f2062652068617368656420"
                "6265666f7265206265696e6720757365642062792074686520484d41"
                "4320616c676f726974686d2e",
                "9b09ffa71b942fcb27635fbcd5b0e944"
                "bfdc63644f0713938a7f51535c3a35e2");
}

static void test_agent_hmac_mac_reuses_key(void **state)
{
    static const uint8_t key[] = "a pseudonym key of 32 bytes.....";
    uint8_t one[AGENT_SHA256_LEN], mac[AGENT_SHA256_LEN];
    struct agent_hmac h;

    (void)state;
    agent_hmac_init(&h, key, 32);
    for (int i = 0; i < 3; i++) {
        agent_hmac_mac(&h, "alice", 5, mac);
        agent_hmac_sha256(key, 32, "alice", 5, one);
        assert_memory_equal(mac, one, sizeof(mac));
    }
    agent_hmac_mac(&h, "bob", 3, mac);
    assert_memory_not_equal(mac, one, sizeof(mac));
    lr_wipe(&h, sizeof(h));
}

/* ---- pseudonyms ---------------------------------------------------------- */

static void test_agent_pseudonym_format(void **state)
{
    static const uint8_t key[] = "0123456789abcdef0123456789abcdef";
    uint8_t mac[AGENT_SHA256_LEN];
    char p[AGENT_PSEUDONYM_MAX], q[AGENT_PSEUDONYM_MAX], hex[65];
    struct agent_hmac h;

    (void)state;
    agent_hmac_init(&h, key, 32);
    agent_pseudonym(&h, "alice@example.com", p);
    assert_int_equal(strlen(p), 34);
    assert_memory_equal(p, "p:", 2);
    assert_int_equal(strspn(p + 2, "0123456789abcdef"), 32);
    agent_hmac_sha256(key, 32, "alice@example.com", 17, mac);
    tohex(mac, 16, hex);
    assert_string_equal(p + 2, hex);
    agent_pseudonym(&h, "alice@example.com", q);
    assert_string_equal(p, q);
    agent_pseudonym(&h, "alice@example.org", q);
    assert_string_not_equal(p, q);
    agent_hmac_init(&h, (const uint8_t *)"another key of 16", 17);
    agent_pseudonym(&h, "alice@example.com", q);
    assert_string_not_equal(p, q);
}

/* ---- the key file -------------------------------------------------------- */

static void test_agent_pseudonym_key_load_creates_0600_and_reuses(void **state)
{
    uint8_t a[AGENT_PSEUDONYM_KEY_MAX], b[AGENT_PSEUDONYM_KEY_MAX];
    size_t alen = 0, blen = 0;
    char path[PATH_MAX + 32], err[256] = "";
    struct stat sb;

    (void)state;
    assert_int_equal(agent_pseudonym_key_load(NULL, tmpdir, a, sizeof(a), &alen,
                                              err, sizeof(err)),
                     LR_OK);
    assert_int_equal(alen, AGENT_PSEUDONYM_KEY_NEW);
    snprintf(path, sizeof(path), "%s/pseudonym.key", tmpdir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, AGENT_PSEUDONYM_KEY_NEW);
    assert_int_equal(agent_pseudonym_key_load("", tmpdir, b, sizeof(b), &blen,
                                              err, sizeof(err)),
                     LR_OK);
    assert_int_equal(blen, alen);
    assert_memory_equal(a, b, alen);
    /* the same file named explicitly */
    assert_int_equal(agent_pseudonym_key_load(path, NULL, b, sizeof(b), &blen,
                                              err, sizeof(err)),
                     LR_OK);
    assert_memory_equal(a, b, alen);
    /* no temporary file left behind */
    snprintf(path, sizeof(path), "ls %s | grep -q tmp", tmpdir);
    assert_int_not_equal(system(path), 0);
}

static void test_agent_pseudonym_key_load_configured_never_created(void **state)
{
    uint8_t key[AGENT_PSEUDONYM_KEY_MAX];
    char path[PATH_MAX + 32], err[256] = "";
    size_t len = 0;

    (void)state;
    snprintf(path, sizeof(path), "%s/missing.key", tmpdir);
    assert_int_equal(agent_pseudonym_key_load(path, tmpdir, key, sizeof(key),
                                              &len, err, sizeof(err)),
                     LR_NOTFOUND);
    assert_non_null(strstr(err, "missing.key"));
    assert_int_equal(access(path, F_OK), -1);
}

static void test_agent_pseudonym_key_load_refuses_bad_files(void **state)
{
    static uint8_t big[AGENT_PSEUDONYM_KEY_MAX + 1];
    uint8_t key[AGENT_PSEUDONYM_KEY_MAX];
    char path[PATH_MAX + 32], err[256] = "";
    size_t len = 99;

    (void)state;
    snprintf(path, sizeof(path), "%s/short.key", tmpdir);
    write_file(path, "fifteen bytes..", 15, 0600);
    assert_int_equal(agent_pseudonym_key_load(path, NULL, key, sizeof(key),
                                              &len, err, sizeof(err)),
                     LR_CORRUPT);
    assert_non_null(strstr(err, "15 bytes"));
    snprintf(path, sizeof(path), "%s/big.key", tmpdir);
    write_file(path, big, sizeof(big), 0600);
    assert_int_equal(agent_pseudonym_key_load(path, NULL, key, sizeof(key),
                                              &len, err, sizeof(err)),
                     LR_CORRUPT);
    snprintf(path, sizeof(path), "%s/open.key", tmpdir);
    write_file(path, "sixteen bytes!!!", 16, 0644);
    assert_int_equal(agent_pseudonym_key_load(path, NULL, key, sizeof(key),
                                              &len, err, sizeof(err)),
                     LR_DENIED);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(agent_pseudonym_key_load(tmpdir, NULL, key, sizeof(key),
                                              &len, err, sizeof(err)),
                     LR_CORRUPT);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(len, 99);
    snprintf(path, sizeof(path), "%s/ok.key", tmpdir);
    write_file(path, "sixteen bytes!!!", 16, 0640);
    assert_int_equal(agent_pseudonym_key_load(path, NULL, key, sizeof(key),
                                              &len, err, sizeof(err)),
                     LR_OK);
    assert_int_equal(len, 16);
    assert_memory_equal(key, "sixteen bytes!!!", 16);
}

static void test_agent_pseudonym_key_load_bad_arguments(void **state)
{
    uint8_t key[AGENT_PSEUDONYM_KEY_MAX];
    char path[PATH_MAX + 32], err[256] = "";
    size_t len;

    (void)state;
    assert_int_equal(agent_pseudonym_key_load(NULL, NULL, key, sizeof(key),
                                              &len, err, sizeof(err)),
                     LR_INVALID);
    assert_int_equal(
        agent_pseudonym_key_load(NULL, tmpdir, key, 8, &len, err, sizeof(err)),
        LR_INVALID);
    /* a state dir that does not exist */
    snprintf(path, sizeof(path), "%s/no/such/dir", tmpdir);
    assert_int_equal(agent_pseudonym_key_load(NULL, path, key, sizeof(key),
                                              &len, err, sizeof(err)),
                     LR_NOTFOUND);
    assert_non_null(strstr(err, "pseudonym.key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_sha256_fips_vectors),
        cmocka_unit_test(test_agent_sha256_million_a),
        cmocka_unit_test(test_agent_sha256_update_every_split),
        cmocka_unit_test(test_agent_hmac_sha256_rfc4231),
        cmocka_unit_test(test_agent_hmac_mac_reuses_key),
        cmocka_unit_test(test_agent_pseudonym_format),
        cmocka_unit_test_setup_teardown(
            test_agent_pseudonym_key_load_creates_0600_and_reuses, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_agent_pseudonym_key_load_configured_never_created, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_agent_pseudonym_key_load_refuses_bad_files, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_agent_pseudonym_key_load_bad_arguments, setup_dir,
            teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
