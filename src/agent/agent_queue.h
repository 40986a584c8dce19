/* agent_queue.h - state messages on their way to the site (docs/internals/device-protocol.md
 * "State messages"): each one a file in <machine>/agent/queue/, written whole (atomicfile.h)
 * with a UUID from getrandom, and removed only once the server has taken it (accepted, or a
 * duplicate of one it has). A killed agent leaves every message complete or absent; what the
 * server did not take goes with the next successful contact.
 *
 *     <machine>/agent/queue/<19-digit ns since 1970>-<uuid>.json   one message, as sent
 *
 * Names sort in the order the messages were made, which is the order they are sent in: the
 * server keeps the newest state of an update by time, and among equal times the last received. */
#ifndef PATCHPOINT_AGENT_QUEUE_H
#define PATCHPOINT_AGENT_QUEUE_H

#include "agent_http.h"
#include "agent_state.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_QUEUE_BATCH_MAX  256 /* messages in one POST (the protocol's limit) */
#define AGENT_QUEUE_DETAIL_MAX 511 /* bytes of detail (the server keeps fewer than 512) */
#define AGENT_QUEUE_NAME_MAX   64
#define AGENT_STATE_PATH       "/api/v1/device/state"

/* One state message. topic is "scan" or "install"; state one of "required", "not_required",
 * "installed", "failed", "pending_reboot". */
struct agent_state_message {
	char id[AGENT_UUID_LEN + 1]; /* made by agent_queue_add */
	long long time;		     /* unix seconds; 0 = now (agent_queue_add) */
	const char *topic;
	char update_id[AGENT_UUID_LEN + 1];
	long long revision;	 /* >= 1 */
	long long deployment_id; /* 0: none (null) */
	const char *state;
	bool has_hresult;
	uint32_t hresult;
	char detail[AGENT_QUEUE_DETAIL_MAX + 1]; /* "" = none (null) */
};

/* One message in the queue. */
struct agent_queued {
	char name[AGENT_QUEUE_NAME_MAX]; /* file name inside queue/ */
	json_t *message;		 /* the message as it will be sent (owned) */
};

struct agent_queue_list {
	struct agent_queued *items; /* owned, in sending order */
	size_t count;
	size_t damaged; /* files that did not hold a valid message (renamed to *.damaged) */
};

/* Gives m an id (and the time when it has none), checks it as the server would and writes it
 * to the queue durably. A detail that is too long is cut at a UTF-8 character boundary. */
int agent_queue_add(const char *machine, struct agent_state_message *m,
		    struct pp_error *err) PP_WARN_UNUSED;

/* The queued messages in sending order. Temporary files of an unfinished write are skipped
 * (and removed when older than a minute); a file that does not hold a valid message is renamed
 * to <name>.damaged, counted and logged to log (may be NULL), so that it never blocks the
 * others. Free with agent_queue_list_free. */
int agent_queue_list(const char *machine, struct cmtrace_log *log, struct agent_queue_list *out,
		     struct pp_error *err) PP_WARN_UNUSED;

void agent_queue_list_free(struct agent_queue_list *l);

/* Removes one message (by file name) from the queue; an absent one is not an error. */
int agent_queue_remove(const char *machine, const char *name, struct pp_error *err) PP_WARN_UNUSED;

/* What a flush did. */
struct agent_queue_flush_result {
	size_t sent;	   /* messages the server took (accepted + duplicates) and removed */
	size_t accepted;   /* of those, new to the server */
	size_t duplicates; /* of those, already known to it */
	size_t left;	   /* messages still queued */
};

/* Sends the queue with POST /api/v1/device/state in batches of at most 256, through h (which
 * holds the device credential), removing each batch once the server took it. Logs to log
 * (StateMessage.log; may be NULL). An empty queue sends nothing. On a failure (server down) the
 * messages not taken stay queued and -1 says why. */
int agent_queue_flush(const char *machine, struct agent_http *h, struct cmtrace_log *log,
		      struct agent_queue_flush_result *res, struct pp_error *err) PP_WARN_UNUSED;

#endif
