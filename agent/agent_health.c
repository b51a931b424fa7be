/*
 * agent_health.c - grpc.health.v1.Health/Check.
 *
 * Answers for the whole server ("") and for each service by its full name,
 * as load balancers and Kubernetes probes ask. A service the listener the
 * probe came in on does not offer is NOT_FOUND there, like a name the agent
 * does not know, so a probe sees what that port really serves. While the
 * agent drains, and while its state store cannot be written (opened
 * read-only, or the last write failed: disk full, file system read-only;
 * agent_watch.c probes it), every known service is NOT_SERVING, so a load
 * balancer moves traffic to an agent that can record locks. (Watch, the
 * streaming variant, is not offered: it answers UNIMPLEMENTED, which the health
 * protocol allows.)
 */
#include "agent/agent.h"

#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

static const struct {
    const char *name;
    unsigned bit; /* 0 = the server as a whole */
} agent_health_services[] = {
    {"", 0},
    {"loginrisk.v1.RiskService", CFG_SVC_RISK},
    {"loginrisk.v1.AdminService", CFG_SVC_ADMIN},
};

static void agent_health_check(struct agent_call *call, void *ctx)
{
    struct agent_state *st = ctx;
    Grpc__Health__V1__HealthCheckRequest *req;
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    const uint8_t *data;
    size_t len, i;

    agent_call_request(call, &data, &len);
    req = grpc__health__v1__health_check_request__unpack(
        agent_call_pb_allocator(call), len, data);
    if (req == NULL) {
        agent_call_fail(call, AGENT_ST_INVALID_ARGUMENT,
                        "request: not a valid grpc.health.v1."
                        "HealthCheckRequest");
        return;
    }
    for (i = 0; i < LR_ARRAY_LEN(agent_health_services); i++)
        if (strcmp(req->service, agent_health_services[i].name) == 0)
            break;
    if (i == LR_ARRAY_LEN(agent_health_services) ||
        (agent_health_services[i].bit != 0 &&
         !(agent_call_services(call) & agent_health_services[i].bit))) {
        agent_call_fail(call, AGENT_ST_NOT_FOUND, "unknown service");
        return;
    }
    resp.status =
        agent_serving(st)
            ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
            : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    agent_call_reply(call, &resp.base);
}

static const struct agent_method agent_health_table[] = {
    {
        .path = "/grpc.health.v1.Health/Check",
        .service = CFG_SVC_HEALTH,
        .handler = agent_health_check,
        .posted = 4,
    },
};

size_t agent_health_methods(const struct agent_method **out)
{
    *out = agent_health_table;
    return LR_ARRAY_LEN(agent_health_table);
}
