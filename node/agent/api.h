/*
 * The agent's local API: JSON over HTTP on a Unix socket in the data directory and, when
 * asked, on loopback TCP. Modules register routes at start; each handler gets the parsed
 * request and answers with api_reply_json() or api_reply_error(), at once or later.
 *
 * Errors are JSON too: {"error":"what is wrong","code":"PL_E..."} with a 4xx/5xx status,
 * so the CLI can print the agent's own words.
 *
 * Who may do what: the Unix socket (mode 0600, its owner only) needs nothing. A request on
 * TCP must come from no foreign web page (a Host that is not an IP address or localhost,
 * or an Origin other than the Host's own, is refused with 403: DNS rebinding and
 * cross-site requests) and must carry `Authorization: Bearer TOKEN` (401 without a valid
 * one); GET needs a `read` token, every other method an `operate` one (403). See
 * api_token.h for the token file.
 */
#ifndef PL_API_H
#define PL_API_H

#include "api_token.h"
#include "http_server.h"

#include <cjson/cJSON.h>

struct api;

struct api_call {
    struct http_conn *conn;
    const struct http_request *req;
    struct api *api;
};

typedef void (*api_handler_cb)(struct api_call *call, void *data);

#define API_ROUTES_MAX 96

struct api_route {
    const char *method;
    const char *path; /* exact path, or a prefix ending in a star: "/v1/incident/" + star */
    api_handler_cb handler;
    void *data;
};

struct api {
    struct http_server http;
    struct api_route routes[API_ROUTES_MAX];
    int nroutes;
    const struct api_tokens *tokens; /* borrowed; NULL refuses every TCP request */
    uint64_t refused_auth, refused_origin; /* counters */
};

/* Sets up the routes table and the HTTP server on `loop`; `tokens` (borrowed, may be NULL)
 * is what TCP requests are checked against. */
void api_init(struct api *api, uv_loop_t *loop, const struct api_tokens *tokens);
int api_listen_unix(struct api *api, const char *path);
int api_listen_tcp(struct api *api, const char *host, int port);
void api_close(struct api *api, void (*close_cb)(struct http_server *s));

/* Routes are matched in the order they were added. Strings must be static. */
int api_route_add(struct api *api, const char *method, const char *path, api_handler_cb handler,
                  void *data);

/* Answers with `doc` serialised; takes ownership of doc. */
void api_reply_json(struct api_call *call, int status, cJSON *doc);
void api_reply_error(struct api_call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The part of the path after a '*' route's prefix ("/v1/incident/abc" -> "abc"). */
const char *api_path_tail(const struct api_call *call, const char *prefix);
/* Parses the body as a JSON object; on failure replies 400 itself and returns NULL. */
cJSON *api_body_json(struct api_call *call);

/* A call that must survive past the handler (answered later) is copied out with this. */
struct api_call *api_call_keep(const struct api_call *call);
/* Answers a kept call and frees it. */
void api_kept_reply_json(struct api_call *kept, int status, cJSON *doc);
void api_kept_reply_error(struct api_call *kept, int status, const char *msg);

#endif
