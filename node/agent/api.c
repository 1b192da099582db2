/*
 * Route table and JSON replies of the local API (api.h).
 */
#include "api.h"

#include "pl_err.h"
#include "pl_log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void reply_doc(struct http_conn *conn, int status, const char *headers, cJSON *doc);
static cJSON *error_doc(int status, const char *msg);

/* A route's path is exact, or a prefix when it ends in '*'. */
static int path_matches(const struct api_route *r, const char *path)
{
    size_t n = strlen(r->path);
    if (n > 0 && r->path[n - 1] == '*')
        return strncmp(r->path, path, n - 1) == 0;
    return strcmp(r->path, path) == 0;
}

/* The host part of a Host header value ("127.0.0.1:8500", "[::1]:8500", "localhost"). */
static int host_part(const char *host, char *out, size_t out_size)
{
    const char *end;
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':'))
            return -1;
        host++;
    } else {
        end = strchr(host, ':');
        if (end == NULL)
            end = host + strlen(host);
    }
    size_t n = (size_t)(end - host);
    if (n == 0 || n >= out_size)
        return -1;
    memcpy(out, host, n);
    out[n] = '\0';
    return 0;
}

/*
 * Why a TCP request looks like it comes from a web page, or NULL. A browser tricked into
 * calling us (DNS rebinding) sends the attacker's name as Host; one on another site sends
 * that site as Origin. Our clients name an address, and send no Origin, or our own.
 */
static const char *foreign(const struct http_request *req, char *why, size_t why_size)
{
    if (req->host != NULL) {
        char h[128];
        struct in6_addr a6;
        if (host_part(req->host, h, sizeof(h)) != 0 ||
            (strcasecmp(h, "localhost") != 0 && inet_pton(AF_INET, h, &a6) != 1 &&
             inet_pton(AF_INET6, h, &a6) != 1)) {
            snprintf(why, why_size, "refused: Host '%.64s' is not an IP address or localhost "
                                    "(address the API by IP; this refuses DNS rebinding)",
                     req->host);
            return why;
        }
    }
    if (req->origin != NULL) {
        if (req->host == NULL || strncasecmp(req->origin, "http://", 7) != 0 ||
            strcasecmp(req->origin + 7, req->host) != 0) {
            snprintf(why, why_size, "refused: a cross-origin request (Origin '%.64s'); the API "
                                    "serves no web pages",
                     req->origin);
            return why;
        }
    }
    return NULL;
}

/* GET and HEAD read; every other method changes something. */
static enum api_scope scope_needed(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? API_SCOPE_READ
                                                                     : API_SCOPE_OPERATE;
}

/* Answers and returns 1 when the request may not go on. */
static int refuse(struct api *api, struct api_call *call)
{
    const struct http_request *req = call->req;
    if (req->via_unix)
        return 0;
    char why[256];
    if (foreign(req, why, sizeof(why)) != NULL) {
        api->refused_origin++;
        PL_LOG_RATELIMITED(PL_LOG_WARN, "api", "request refused method=%s path=%s why=foreign-host-or-origin",
                           req->method, req->path);
        api_reply_error(call, 403, "%s", why);
        return 1;
    }
    enum api_scope scope = api->tokens != NULL ? api_tokens_check(api->tokens, req->authorization)
                                               : API_SCOPE_NONE;
    if (scope == API_SCOPE_NONE) {
        api->refused_auth++;
        PL_LOG_RATELIMITED(PL_LOG_WARN, "api", "request refused method=%s path=%s why=%s",
                           req->method, req->path,
                           req->authorization == NULL ? "no-token" : "bad-token");
        snprintf(why, sizeof(why), "%s",
                 req->authorization == NULL
                     ? "this API needs a token: send Authorization: Bearer TOKEN (the CLI's "
                       "--token-file FILE or PLATELET_TOKEN), or use the agent's Unix socket"
                     : "the API token is not valid here (not in the agent's api_token_file)");
        reply_doc(call->conn, 401, "WWW-Authenticate: Bearer realm=\"platelet\"\r\n",
                  error_doc(401, why));
        return 1;
    }
    if (scope < scope_needed(req->method)) {
        api->refused_auth++;
        api_reply_error(call, 403, "%s %s needs an operate token; this one is a read token",
                        req->method, req->path);
        return 1;
    }
    return 0;
}

static void handle(struct http_conn *conn, const struct http_request *req, void *data)
{
    struct api *api = data;
    struct api_call call = {conn, req, api};
    if (refuse(api, &call))
        return;
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

void api_init(struct api *api, uv_loop_t *loop, const struct api_tokens *tokens)
{
    memset(api, 0, sizeof(*api));
    api->tokens = tokens;
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

static void reply_doc(struct http_conn *conn, int status, const char *headers, cJSON *doc)
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
    http_respond_headers(conn, status, "application/json", headers, text, n + 1);
    free(text);
}

void api_reply_json(struct api_call *call, int status, cJSON *doc) { reply_doc(call->conn, status, "", doc); }

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
    reply_doc(call->conn, status, "", error_doc(status, msg));
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
    reply_doc(kept->conn, status, "", doc);
    free(kept);
}

void api_kept_reply_error(struct api_call *kept, int status, const char *msg)
{
    reply_doc(kept->conn, status, "", error_doc(status, msg));
    free(kept);
}
