/*
 * The CLI's side of the local API: one blocking HTTP request with libcurl (a CLI command
 * does one thing and exits, so the easy interface is the right tool here).
 *
 * An address is "HOST:PORT" (loopback TCP), "unix:PATH", or a path containing '/' (the
 * agent's Unix socket, `<data-dir>/api.sock`). With no --api flag, PLATELET_API is used.
 *
 * On TCP the request carries `Authorization: Bearer TOKEN`, the token read from
 * --token-file (api_token_read_client()) or else taken from PLATELET_TOKEN; the Unix
 * socket needs none.
 */
#ifndef PL_API_CLIENT_H
#define PL_API_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* The flag rows every API command shares; they fill the command's own `api` (const char *)
 * and `json` (bool) variables; --token-file fills api_client_token_file. */
extern const char *api_client_token_file;
#define API_CLIENT_FLAG_API                                                                     \
    {"--api", CLI_STR, &api, "agent address (IP:PORT or unix:PATH)", false, false},            \
    {"--token-file", CLI_STR, &api_client_token_file,                                          \
     "API token for a TCP address (default: $PLATELET_TOKEN)", false, false}
#define API_CLIENT_FLAG_JSON {"--json", CLI_BOOL, &json, "print JSON", false, false}
#define CLI_FLAGS_END {NULL, 0, NULL, NULL, false, false}

/* How long a command keeps trying to connect to an agent that does not listen (yet): one
 * started in the background a moment ago is not an error. */
#define API_CLIENT_CONNECT_WAIT_MS 2000

/* The address to use: `flag` if given, else $PLATELET_API, else NULL. */
const char *api_client_addr(const char *flag);

/*
 * Sends `method path` with an optional JSON body and parses the JSON answer into *out
 * (caller frees with cJSON_Delete). On any failure prints one line "<cmd>: ..." to
 * stderr (the agent's own error message when it sent one) and returns non-zero:
 * PL_EUSAGE for a missing address, -ECONNREFUSED-style codes when the agent is not there,
 * PL_EPROTO for an error status. `timeout_ms` 0 means 10 s; a refused connection is tried
 * again for API_CLIENT_CONNECT_WAIT_MS first.
 */
int api_client_json(const char *cmd, const char *addr, const char *method, const char *path,
                    const char *body, long timeout_ms, cJSON **out);

/* Printer helpers for answers: a member's string ("" when absent or not a string) and
 * number (0 when absent or not a number). */
const char *json_str(const cJSON *o, const char *key);
double json_num(const cJSON *o, const char *key);

/* Prints a JSON document on stdout, pretty when `pretty`. */
void api_client_print_json(const cJSON *doc, int pretty);



/*
 * The whole of a simple API command: sends the request, then prints the answer as JSON
 * (`json` true, or no `human` printer) or through `human`. Returns the command's result.
 */
int api_client_run(const char *cmd, const char *addr, const char *method, const char *path,
                   const char *body, bool json, void (*human)(const cJSON *doc));
/* The same with a timeout for an answer that may take long (0: the default, 10 s). */
int api_client_run_timeout(const char *cmd, const char *addr, const char *method,
                           const char *path, const char *body, long timeout_ms, bool json,
                           void (*human)(const cJSON *doc));
#endif
