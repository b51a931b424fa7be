/*
 * agent_admin.c - loginrisk.v1.AdminService.
 *
 * Every method is registered (so a listener that does not offer the admin
 * service is told apart from one that does), but none is implemented yet:
 * the adapter answers UNIMPLEMENTED "<method> is not implemented" for a row
 * without a handler. The admin issue fills the handlers in (token check,
 * audit, locks through the store on a blocking-work thread).
 */
#include "agent/agent.h"

#define AGENT_ADMIN(m)                                                         \
    {                                                                          \
        .path = "/loginrisk.v1.AdminService/" m, .service = CFG_SVC_ADMIN,     \
        .handler = NULL, .posted = 1,                                          \
    }

static const struct agent_method agent_admin_table[] = {
    AGENT_ADMIN("LockAccounts"), AGENT_ADMIN("UnlockAccounts"),
    AGENT_ADMIN("LockByQuery"),  AGENT_ADMIN("GetAccount"),
    AGENT_ADMIN("ListLocks"),    AGENT_ADMIN("ReloadConfig"),
};

size_t agent_admin_methods(const struct agent_method **out)
{
    *out = agent_admin_table;
    return LR_ARRAY_LEN(agent_admin_table);
}
