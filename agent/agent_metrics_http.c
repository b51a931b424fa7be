/*
 * agent_metrics_http.c - GET /metrics over HTTP, on libmicrohttpd.
 *
 * The libmicrohttpd calls live here and nowhere else. The listening socket
 * is made here too (getaddrinfo, bind, listen) and handed to the daemon, so
 * a bad or busy address gives the operator the real reason ("bind
 * 127.0.0.1:9464: Address already in use") rather than a NULL from
 * MHD_start_daemon, and port 0 reports the port it got.
 *
 * One internal polling thread serves every scrape; connections are capped
 * and time out, so a slow or hostile client cannot hold the thread or grow
 * memory. Only GET and HEAD of /metrics are answered (the page is rendered
 * per request from the atomics); other paths get 404, other methods 405.
 */
#include "agent/agent.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define METRICS_CONN_LIMIT 16
#define METRICS_CONN_TIMEOUT_S 10
#define METRICS_BACKLOG 16
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct agent_metrics_server {
    struct MHD_Daemon *daemon;
    struct agent_metrics *metrics;
    uint16_t port;
};

/* ---- the address --------------------------------------------------------- */

/* Splits "host:port" or "[v6]:port" into @p host and @p port. */
static int http_split(const char *addr, char *host, size_t hcap, char *port,
                      size_t pcap)
{
    const char *colon, *h = addr;
    size_t hlen;

    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return LR_INVALID;
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)))
            return LR_INVALID;
        hlen = (size_t)(colon - addr);
    }
    if (hlen == 0 || hlen >= hcap || colon[1] == '\0' ||
        strlen(colon + 1) >= pcap ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return LR_INVALID;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    lr_strlcpy(port, colon + 1, pcap);
    return atoi(port) > 65535 ? LR_INVALID : LR_OK;
}

/* A bound, listening TCP socket on the first address @p host:@p port
 * resolves to; its family in *@p family. */
static int http_listen(const char *addr, int *fd_out, int *family, char *err,
                       size_t errcap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char host[256], port[8];
    int one = 1, fd = -1, rc = LR_OK, gai;

    if (http_split(addr, host, sizeof(host), port, sizeof(port)))
        return lr_errf(err, errcap, LR_INVALID,
                       "metrics listen %s: not host:port or [v6]:port", addr);
    gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0)
        return lr_errf(err, errcap, LR_INVALID, "metrics listen %s: %s", addr,
                       gai_strerror(gai));
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, METRICS_BACKLOG)) {
        rc = lr_errf(err, errcap, LR_IO, "metrics listen %s: %s", addr,
                     strerror(errno));
        goto out;
    }
    *family = ai->ai_family;
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}

static uint16_t http_bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len))
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* ---- requests ------------------------------------------------------------ */

static enum MHD_Result http_text(struct MHD_Connection *conn,
                                 unsigned int status, const char *text)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                        MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result http_metrics(struct agent_metrics_server *s,
                                    struct MHD_Connection *conn)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char *page = NULL;
    size_t len = 0;

    if (agent_metrics_render(s->metrics, &page, &len))
        return http_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                         "out of memory\n");
    r = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(page);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            METRICS_CONTENT_TYPE);
    ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    struct agent_metrics_server *s = cls;

    (void)version;
    (void)upload_data;
    /* answer on the first call, before any body is read */
    *upload_data_size = 0;
    *req_cls = NULL;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return http_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                         "only GET and HEAD\n");
    if (strcmp(url, "/metrics") != 0)
        return http_text(conn, MHD_HTTP_NOT_FOUND,
                         "loginrisk-agent: metrics are at /metrics\n");
    return http_metrics(s, conn);
}

static void http_log(void *cls, const char *fmt, va_list ap) LR_PRINTF(2, 0);

static void http_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    lr_log(LR_LOG_WARN, "metrics http: %s", msg);
}

/* ---- start and stop ------------------------------------------------------ */

int agent_metrics_serve(struct agent_metrics *m, const char *addr,
                        struct agent_metrics_server **out, char *err,
                        size_t errcap)
{
    struct agent_metrics_server *s = NULL;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    int fd = -1, family = AF_INET, rc;

    if (m == NULL || addr == NULL || out == NULL)
        return lr_errf(err, errcap, LR_INVALID, "metrics: bad arguments");
    rc = http_listen(addr, &fd, &family, err, errcap);
    if (rc)
        return rc;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = lr_errf(err, errcap, LR_NOMEM, "metrics: no memory");
        goto out;
    }
    s->metrics = m;
    s->port = http_bound_port(fd);
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_handle, s, MHD_OPTION_EXTERNAL_LOGGER,
        http_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CONN_TIMEOUT_S,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        rc = lr_errf(err, errcap, LR_INTERNAL,
                     "metrics listen %s: libmicrohttpd did not start", addr);
        goto out;
    }
    fd = -1; /* the daemon closes it when stopped */
    lr_log(LR_LOG_INFO, "metrics on http://%s/metrics (port %u)", addr,
           (unsigned)s->port);
    *out = s;
    s = NULL;
out:
    if (fd >= 0)
        close(fd);
    free(s);
    return rc;
}

uint16_t agent_metrics_server_port(const struct agent_metrics_server *s)
{
    return s != NULL ? s->port : 0;
}

void agent_metrics_server_stop(struct agent_metrics_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
