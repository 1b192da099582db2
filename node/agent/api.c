/*
 * Route table and JSON replies of the local API (api.h).
 */
#include "api.h"

#include "pl_err.h"
#include "pl_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A route's path is exact, or a prefix when it ends in '*'. */
static int path_matches(const struct api_route *r, const char *path)
{
    size_t n = strlen(r->path);
    if (n > 0 && r->path[n - 1] == '*')
        return strncmp(r->path, path, n - 1) == 0;
    return strcmp(r->path, path) == 0;
}

static void handle(struct http_conn *conn, const struct http_request *req, void *data)
{
    struct api *api = data;
    struct api_call call = {conn, req, api};
    int path_known = 0;
    for (int i = 0; i < api->nroutes; i++) {
        struct api_route *r = &api->routes[i];
        if (!path_matches(r, req->path))
            continue;
        if (strcmp(r->method, req->method) == 0) {
            r->handler(&call, r->data);
            return;
        }
        path_known = 1;
    }
    if (path_known)
        api_reply_error(&call, 405, "method %s not allowed on %s", req->method, req->path);
    else
        api_reply_error(&call, 404, "no such endpoint: %s %s", req->method, req->path);
}

void api_init(struct api *api, uv_loop_t *loop)
{
    memset(api, 0, sizeof(*api));
    http_server_init(&api->http, loop, handle, api, NULL);
}

int api_listen_unix(struct api *api, const char *path) { return http_server_listen_unix(&api->http, path); }
int api_listen_tcp(struct api *api, const char *host, int port) { return http_server_listen_tcp(&api->http, host, port); }
void api_close(struct api *api, void (*close_cb)(struct http_server *s)) { http_server_close(&api->http, close_cb); }

int api_route_add(struct api *api, const char *method, const char *path, api_handler_cb handler,
                  void *data)
{
    if (api->nroutes >= API_ROUTES_MAX)
        return PL_EFULL;
    api->routes[api->nroutes++] = (struct api_route){method, path, handler, data};
    return 0;
}

static void reply_doc(struct http_conn *conn, int status, cJSON *doc)
{
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL) {
        static const char oom[] = "{\"error\":\"out of memory\",\"code\":\"ENOMEM\"}";
        http_respond(conn, 500, "application/json", oom, sizeof(oom) - 1);
        return;
    }
    size_t n = strlen(text);
    text[n] = '\n';
    http_respond(conn, status, "application/json", text, n + 1);
    free(text);
}

void api_reply_json(struct api_call *call, int status, cJSON *doc) { reply_doc(call->conn, status, doc); }

static cJSON *error_doc(int status, const char *msg)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", msg);
    cJSON_AddNumberToObject(doc, "status", status);
    return doc;
}

void api_reply_error(struct api_call *call, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_doc(call->conn, status, error_doc(status, msg));
}

const char *api_path_tail(const struct api_call *call, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n > 0 && prefix[n - 1] == '*')
        n--;
    return call->req->path + n;
}

cJSON *api_body_json(struct api_call *call)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(call->req->body, call->req->body_len, &end, 0);
    if (doc == NULL || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        api_reply_error(call, 400, "request body is not a JSON object");
        return NULL;
    }
    return doc;
}

struct api_call *api_call_keep(const struct api_call *call)
{
    struct api_call *kept = malloc(sizeof(*kept));
    if (kept == NULL)
        return NULL;
    kept->conn = call->conn;
    kept->req = NULL; /* the request itself is not kept past the handler */
    kept->api = call->api;
    return kept;
}

void api_kept_reply_json(struct api_call *kept, int status, cJSON *doc)
{
    reply_doc(kept->conn, status, doc);
    free(kept);
}

void api_kept_reply_error(struct api_call *kept, int status, const char *msg)
{
    reply_doc(kept->conn, status, error_doc(status, msg));
    free(kept);
}
