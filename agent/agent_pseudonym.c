/*
 * agent_pseudonym.c - account pseudonyms for the decision log, and the key
 * file behind them.
 *
 * A pseudonym is a keyed hash (HMAC-SHA256, cut to 16 bytes), not a plain
 * hash: account ids are guessable (e-mail addresses), so anyone holding the
 * log could otherwise hash a list of candidates and match them. Without the
 * key the log names no one; with it an investigator can still check "was
 * this account in the log?".
 *
 * The default key is made on first start in the state directory: written to
 * a unique temporary name (O_EXCL, mode 0600), synced, then link()ed into
 * place, so two agents starting at once agree on one key and a crash never
 * leaves a short key behind. A configured key file is only read: several
 * agents that share it must produce the same pseudonyms, so silently making
 * a fresh one would split the log.
 */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PSEUDO_FILE "pseudonym.key"
#define PSEUDO_BYTES 16 /* of the MAC kept: 128 bits */

static int pseudo_errno_rc(int e)
{
    switch (e) {
    case ENOENT:
        return LR_NOTFOUND;
    case EACCES:
    case EPERM:
        return LR_DENIED;
    case EEXIST:
        return LR_EXISTS;
    default:
        return LR_IO;
    }
}

/* A regular file that other users cannot touch, of a sane size. */
static int pseudo_check(const char *path, int fd, char *err, size_t errcap)
{
    struct stat sb;

    if (fstat(fd, &sb))
        return lr_errf(err, errcap, LR_IO, "pseudonym key %s: %s", path,
                       strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return lr_errf(err, errcap, LR_CORRUPT,
                       "pseudonym key %s: not a regular file", path);
    if (sb.st_mode & (S_IROTH | S_IWOTH))
        return lr_errf(err, errcap, LR_DENIED,
                       "pseudonym key %s: other users may read or write "
                       "it (mode %04o); run chmod 600 on it",
                       path, (unsigned)(sb.st_mode & 07777));
    if (sb.st_size < AGENT_PSEUDONYM_KEY_MIN ||
        sb.st_size > AGENT_PSEUDONYM_KEY_MAX)
        return lr_errf(err, errcap, LR_CORRUPT,
                       "pseudonym key %s: %lld bytes; it must hold %d to "
                       "%d bytes",
                       path, (long long)sb.st_size, AGENT_PSEUDONYM_KEY_MIN,
                       AGENT_PSEUDONYM_KEY_MAX);
    return LR_OK;
}

/* Reads the whole of @p fd (already checked to be small) into @p key. */
static int pseudo_read_fd(const char *path, int fd, uint8_t *key, size_t cap,
                          size_t *len_out, char *err, size_t errcap)
{
    size_t n = 0;

    while (n < cap) {
        ssize_t r = read(fd, key + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return lr_errf(err, errcap, LR_IO, "pseudonym key %s: %s", path,
                           strerror(errno));
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n < AGENT_PSEUDONYM_KEY_MIN || n > AGENT_PSEUDONYM_KEY_MAX)
        return lr_errf(err, errcap, LR_CORRUPT,
                       "pseudonym key %s: %zu bytes read; it must hold "
                       "%d to %d bytes",
                       path, n, AGENT_PSEUDONYM_KEY_MIN,
                       AGENT_PSEUDONYM_KEY_MAX);
    *len_out = n;
    return LR_OK;
}

static int pseudo_read(const char *path, uint8_t *key, size_t cap,
                       size_t *len_out, char *err, size_t errcap)
{
    uint8_t buf[AGENT_PSEUDONYM_KEY_MAX + 1];
    size_t n = 0;
    int fd;
    int rc;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return lr_errf(err, errcap, pseudo_errno_rc(errno),
                       "pseudonym key %s: %s", path, strerror(errno));
    rc = pseudo_check(path, fd, err, errcap);
    if (rc)
        goto out;
    rc = pseudo_read_fd(path, fd, buf, sizeof(buf), &n, err, errcap);
    if (rc)
        goto out;
    if (n > cap) {
        rc = lr_errf(err, errcap, LR_INVALID,
                     "pseudonym key %s: buffer too small", path);
        goto out;
    }
    memcpy(key, buf, n);
    *len_out = n;
out:
    close(fd);
    lr_wipe(buf, sizeof(buf));
    return rc;
}

static int pseudo_write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return LR_IO;
        p += w;
        len -= (size_t)w;
    }
    return LR_OK;
}

/* A fresh key in the unique temporary file @p tmp, mode 0600, synced. */
static int pseudo_write_tmp(const char *tmp, char *err, size_t errcap)
{
    uint8_t key[AGENT_PSEUDONYM_KEY_NEW];
    int rc = LR_OK;
    int fd = -1;

    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
        rc = lr_errf(err, errcap, LR_IO, "pseudonym key: getrandom: %s",
                     strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = lr_errf(err, errcap, pseudo_errno_rc(errno),
                     "pseudonym key %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) || pseudo_write_all(fd, key, sizeof(key)) || fsync(fd))
        rc = lr_errf(err, errcap, LR_IO, "pseudonym key %s: writing: %s", tmp,
                     strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    lr_wipe(key, sizeof(key));
    return rc;
}

/* Creates @p path; LR_EXISTS when another process made it first. */
static int pseudo_create(const char *path, char *err, size_t errcap)
{
    char tmp[PATH_MAX];
    uint32_t nonce = 0;
    int rc;

    if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        return lr_errf(err, errcap, LR_IO, "pseudonym key: getrandom: %s",
                       strerror(errno));
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%08x", path, (long)getpid(),
                 (unsigned)nonce) >= (int)sizeof(tmp))
        return lr_errf(err, errcap, LR_INVALID,
                       "pseudonym key %s: path too long", path);
    rc = pseudo_write_tmp(tmp, err, errcap);
    if (rc)
        goto out;
    if (link(tmp, path)) {
        rc = pseudo_errno_rc(errno);
        if (rc != LR_EXISTS)
            lr_errf(err, errcap, rc, "pseudonym key %s: %s", path,
                    strerror(errno));
        goto out;
    }
    lr_log(LR_LOG_INFO, "pseudonym key %s: created (%d random bytes)", path,
           AGENT_PSEUDONYM_KEY_NEW);
out:
    (void)unlink(tmp);
    return rc;
}

int agent_pseudonym_key_load(const char *key_file, const char *state_dir,
                             uint8_t *key, size_t cap, size_t *len_out,
                             char *err, size_t errcap)
{
    char path[PATH_MAX];
    int rc;

    if (key == NULL || len_out == NULL || cap < AGENT_PSEUDONYM_KEY_MIN)
        return lr_errf(err, errcap, LR_INVALID, "pseudonym key: bad arguments");
    if (key_file != NULL && key_file[0] != '\0')
        return pseudo_read(key_file, key, cap, len_out, err, errcap);
    if (state_dir == NULL || state_dir[0] == '\0')
        return lr_errf(err, errcap, LR_INVALID,
                       "pseudonym key: no key file and no state dir");
    if (snprintf(path, sizeof(path), "%s/%s", state_dir, PSEUDO_FILE) >=
        (int)sizeof(path))
        return lr_errf(err, errcap, LR_INVALID,
                       "pseudonym key: state dir path too long");
    rc = pseudo_read(path, key, cap, len_out, err, errcap);
    if (rc != LR_NOTFOUND)
        return rc;
    rc = pseudo_create(path, err, errcap);
    if (rc && rc != LR_EXISTS)
        return rc;
    return pseudo_read(path, key, cap, len_out, err, errcap);
}

void agent_pseudonym(const struct agent_hmac *key, const char *account_id,
                     char out[AGENT_PSEUDONYM_MAX])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[AGENT_SHA256_LEN];

    agent_hmac_mac(key, account_id, strlen(account_id), mac);
    out[0] = 'p';
    out[1] = ':';
    for (int i = 0; i < PSEUDO_BYTES; i++) {
        out[2 + 2 * i] = hex[mac[i] >> 4];
        out[3 + 2 * i] = hex[mac[i] & 15];
    }
    out[2 + 2 * PSEUDO_BYTES] = '\0';
}
